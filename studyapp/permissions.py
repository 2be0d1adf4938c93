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

from studyapp.models import Artifact, Job, Study, StudyMembership

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
    """Jobs a researcher launched, and the jobs of studies they have a role on."""
    jobs = Job.objects.all()
    if user.is_superuser:
        return jobs
    return jobs.filter(Q(created_by=user) | Q(study__memberships__user=user)).distinct()


def can_run_job(user, job: Job) -> bool:
    """Cancel or retry: whoever launched it, or a collaborator of its study."""
    if user.is_superuser or job.created_by_id == user.pk:
        return True
    return job.study is not None and has_role(user, job.study, Role.COLLABORATOR)


def can_view_artifact(user, artifact: Artifact) -> bool:
    """Through a job the researcher sees, or a study of theirs over the same stimulus set."""
    if user.is_superuser:
        return True
    if artifact.job_id and visible_jobs(user).filter(pk=artifact.job_id).exists():
        return True
    return visible_studies(user).filter(stimulus_set=artifact.stimulus_set_id).exists()


def runnable_studies(user) -> QuerySet[Study]:
    studies = visible_studies(user)
    if user.is_superuser:
        return studies
    return studies.filter(
        memberships__user=user, memberships__role__in=[Role.OWNER, Role.COLLABORATOR]
    )
