"""Study roles: who may read (viewer), run (collaborator) or manage (owner) a study.

Superusers count as owners of every study. A researcher without any role does not see the
study at all (404); one whose role is too low for an action gets 403.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from studyapp.models import Artifact, Job, Stimulus, Study, StudyMembership

Role = StudyMembership.Role
RANK = {Role.VIEWER: 1, Role.COLLABORATOR: 2, Role.OWNER: 3}


def study_role(user, study: Study) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.OWNER
    return (
        StudyMembership.objects.filter(study=study, user=user)
        .values_list("role", flat=True)
        .first()
    )


def has_role(user, study: Study, minimum: str) -> bool:
    role = study_role(user, study)
    return role is not None and RANK[role] >= RANK[minimum]


def visible_studies(user) -> QuerySet[Study]:
    studies = Study.objects.select_related("stimulus_set")
    if user.is_superuser:
        return studies
    return studies.filter(memberships__user=user).distinct()


def study_access(minimum: str) -> Callable:
    """View decorator: log-in required, ``slug`` resolved to a study the user has ``minimum`` on.

    The view receives ``study`` instead of ``slug``; ``request.study_role`` holds the role.
    """

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs):
            study = Study.objects.select_related("stimulus_set").filter(slug=slug).first()
            role = study_role(request.user, study) if study else None
            if role is None:
                raise Http404("No such study, or not yours.")
            if RANK[role] < RANK[minimum]:
                raise PermissionDenied(f"This needs the {minimum} role; you are {role}.")
            request.study_role = role
            return view(request, study, *args, **kwargs)

        return wrapper

    return decorator


def visible_jobs(user) -> QuerySet[Job]:
    """Jobs of studies the researcher has a role on, and the study-less jobs they launched.

    A job made for a study (a report, say) needs a role on that study, even for whoever
    launched it: a researcher removed from a study loses its jobs.
    """
    jobs = Job.objects.all()
    if user.is_superuser:
        return jobs
    return jobs.filter(
        Q(study__memberships__user=user) | Q(study__isnull=True, created_by=user)
    ).distinct()


def can_run_job(user, job: Job) -> bool:
    """Cancel or retry: a collaborator of its study; for a study-less job, whoever launched it."""
    if user.is_superuser:
        return True
    if job.study is not None:
        return has_role(user, job.study, Role.COLLABORATOR)
    return job.created_by_id == user.pk


def can_view_artifact(user, artifact: Artifact) -> bool:
    """An artifact made for a study (a report) needs a role on that study.

    A shared one (embeddings, relevance over a set) needs a role on a study that uses it (its
    stimulus set and every model it was computed with), or to have launched its study-less
    job. Shared artifacts hold model outputs only, never participant data.
    """
    if user.is_superuser:
        return True
    if artifact.study_id is not None:
        return study_role(user, artifact.study) is not None
    if artifact.job_id and visible_jobs(user).filter(pk=artifact.job_id, study=None).exists():
        return True
    return studies_using(artifact).filter(memberships__user=user).exists()


def studies_using(artifact: Artifact) -> QuerySet[Study]:
    """Studies on the artifact's stimulus set whose models include every model it used."""
    studies = Study.objects.filter(stimulus_set=artifact.stimulus_set_id)
    model_ids = {artifact.face_model_id} if artifact.face_model_id else set()
    model_ids.update(artifact.params.get("models", []))
    for model_id in model_ids:
        studies = studies.filter(face_models=model_id)
    return studies


def can_view_stimulus_image(user, name: str) -> bool:
    """A stored stimulus image: public while a live study shows it; otherwise for researchers
    with a role on a study over its set, and for admin users who may view stimuli."""
    sets = Stimulus.objects.filter(image=name).values("stimulus_set")
    studies = Study.objects.filter(stimulus_set__in=sets)
    if studies.filter(status=Study.Status.LIVE).exists():
        return True
    if not user.is_authenticated:
        return False
    if user.has_perm("studyapp.view_stimulus"):
        return Stimulus.objects.filter(image=name).exists()
    return visible_studies(user).filter(stimulus_set__in=sets).exists()


def runnable_studies(user) -> QuerySet[Study]:
    studies = visible_studies(user)
    if user.is_superuser:
        return studies
    return studies.filter(
        memberships__user=user, memberships__role__in=[Role.OWNER, Role.COLLABORATOR]
    )
