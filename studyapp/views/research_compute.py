"""Researcher pages for compute jobs and artifacts (models: ``research_models``).

Jobs and artifacts are visible through the studies a researcher has a role on (see
``permissions``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from PIL import Image

from studyapp.downloads import artifact_file_download
from studyapp.file_responses import file_response
from studyapp.models import Artifact, AuditEvent, Stimulus
from studyapp.permissions import can_run_job, can_view_artifact, runnable_studies, visible_jobs
from studyapp.selectors.compute import job_list
from studyapp.services.jobs import job_cancel, job_launch, job_retry
from studyapp.services.studies import audit_record
from studyapp.storage import read_arrays_cached
from studyapp.views.job_messages import warn_if_queue_down

MAX_OVERLAYS_PER_PAGE = 60


@login_required
def model_grid(request: HttpRequest) -> HttpResponse:
    """Launch pretrainings x tasks x seeds as one action (one finetune job per model)."""
    from studyapp.forms_compute import ModelGridForm  # imports PyTorch: see `models`
    from studyapp.services.model_grid import model_grid_launch

    form = ModelGridForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            launched = model_grid_launch(
                bases=list(data["bases"]),
                stimulus_set=data["stimulus_set"],
                tasks=data["tasks"],
                seeds=data["seeds"],
                params=form.params(),
                user=request.user,
            )
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            warn_if_queue_down(request, launched)
            messages.success(request, f"Launched {len(launched)} finetune jobs (the model grid).")
            return redirect("research-jobs")
    status = 400 if request.method == "POST" else 200
    return render(request, "research/model_grid.html", {"form": form}, status=status)


@login_required
def jobs(request: HttpRequest) -> HttpResponse:
    # The job form imports PyTorch (~0.9 GB, ~3 s); importing it here rather than at
    # start-up keeps it out of the web workers that only serve participants.
    from studyapp.forms_compute import JobLaunchForm

    form = JobLaunchForm(request.POST or None, studies=runnable_studies(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = job_launch(
                kind=data["kind"],
                stimulus_set=data["study"].stimulus_set if data["study"] else data["stimulus_set"],
                face_models=list(data["face_models"]),
                params=data["params"],
                study=data["study"],
                user=request.user,
            )
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            warn_if_queue_down(request, [job])
            return redirect("research-job", job.pk)
    jobs = job_list().filter(pk__in=visible_jobs(request.user).values("pk"))[:200]
    return render(request, "research/jobs.html", {"jobs": jobs, "form": form})


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(
        job_list().filter(pk__in=visible_jobs(request.user).values("pk")), pk=job_id
    )
    context = {
        "can_run": can_run_job(request.user, job),
        "job": job,
        "status": job.status_record(),
        "batches": job.batches.select_related("face_model"),
        "artifacts": job.artifacts.select_related("face_model"),
        "dissection_figures": _dissection_figure_names(_dissection_artifacts(job)),
    }
    return render(request, "research/job_detail.html", context)


@login_required
def job_dissection_figure(request: HttpRequest, job_id: int, name: str) -> HttpResponse:
    """A dissection figure of a job's artifacts (all its models), as PNG."""
    job = get_object_or_404(visible_jobs(request.user), pk=job_id)
    return _dissection_png(_dissection_artifacts(job), name)


@login_required
def artifact_dissection_figure(request: HttpRequest, artifact_id: int, name: str) -> HttpResponse:
    """A dissection figure of one model's artifact, as PNG."""
    artifact = _artifact_for(
        request,
        Artifact.objects.filter(kind=Artifact.Kind.DISSECTION).select_related("face_model"),
        artifact_id,
    )
    return _dissection_png([artifact], name)


def _dissection_artifacts(job) -> list[Artifact]:
    return list(
        job.artifacts.filter(kind=Artifact.Kind.DISSECTION)
        .select_related("face_model")
        .order_by("face_model__pk")
    )


def _dissection_figure_names(artifacts: list[Artifact]) -> list[str]:
    if not artifacts:
        return []
    from studyapp.dissection_figures import figure_names  # matplotlib: see study_chart

    return figure_names(artifacts)


def _dissection_png(artifacts: list[Artifact], name: str) -> HttpResponse:
    from studyapp.dissection_figures import dissection_figure_png  # matplotlib, scipy

    png = dissection_figure_png(artifacts, name)
    if png is None:
        raise Http404("No such dissection figure.")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def jobs_status(request: HttpRequest) -> JsonResponse:
    """``?ids=1,2,3``: status of those jobs, for the progress bars."""
    try:
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i][:200]
    except ValueError:
        return JsonResponse(
            {"error": {"code": "invalid_ids", "message": "ids must be integers"}}, status=400
        )
    jobs = visible_jobs(request.user).filter(pk__in=ids)
    return JsonResponse({"jobs": [job.status_record() for job in jobs]})


@login_required
@require_POST
def job_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    job = get_object_or_404(visible_jobs(request.user), pk=job_id)
    if not can_run_job(request.user, job):
        raise PermissionDenied(
            "Only whoever launched a job, or a collaborator of its study, may do that."
        )
    try:
        job = (job_cancel if action == "cancel" else job_retry)(job=job)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        warn_if_queue_down(request, [job])
    return redirect("research-job", job.pk)


@login_required
def artifact_download(request: HttpRequest, artifact_id: int) -> HttpResponse:
    artifact = _artifact_for(
        request,
        Artifact.objects.select_related("job__study", "study", "face_model", "stimulus_set"),
        artifact_id,
    )
    audit_record(
        action=AuditEvent.Action.EXPORT,
        user=request.user,
        study=artifact.study or (artifact.job.study if artifact.job else None),
        artifact=artifact.pk,
    )
    return file_response(name=artifact.file.name, download=artifact_file_download(artifact))


@login_required
def artifact_detail(request: HttpRequest, artifact_id: int) -> HttpResponse:
    artifact = _artifact_for(
        request, Artifact.objects.select_related("face_model", "stimulus_set", "job"), artifact_id
    )
    stimuli, page = [], None
    if artifact.kind == Artifact.Kind.RELEVANCE:
        ids = read_arrays_cached(artifact.file.name, artifact.sha256)["stimulus_ids"].tolist()
        # get_page: a page that is not a number shows the first page, one past the end the last.
        page = Paginator(ids, MAX_OVERLAYS_PER_PAGE).get_page(request.GET.get("page"))
        names = dict(Stimulus.objects.filter(pk__in=page.object_list).values_list("pk", "name"))
        stimuli = [(pk, names.get(pk, "?")) for pk in page.object_list]
    dissection = _dissection_figure_names(
        [artifact] if artifact.kind == Artifact.Kind.DISSECTION else []
    )
    context = {
        "artifact": artifact,
        "stimuli": stimuli,
        "page": page,
        "dissection_figures": dissection,
    }
    return render(request, "research/artifact_detail.html", context)


@login_required
def relevance_overlay(request: HttpRequest, artifact_id: int, stimulus_id: int) -> HttpResponse:
    artifact = _artifact_for(
        request, Artifact.objects.filter(kind=Artifact.Kind.RELEVANCE), artifact_id
    )
    arrays = read_arrays_cached(artifact.file.name, artifact.sha256)
    rows = (arrays["stimulus_ids"] == stimulus_id).nonzero()[0]
    if not len(rows):
        raise Http404("No relevance map for this stimulus.")
    stimulus = get_object_or_404(Stimulus, pk=stimulus_id)
    from studyapp.overlays import relevance_overlay_png  # matplotlib: see research.study_chart

    with stimulus.image.open("rb") as handle, Image.open(handle) as image:
        png = relevance_overlay_png(image, arrays["maps"][rows[0]])
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _artifact_for(request: HttpRequest, queryset, artifact_id: int) -> Artifact:
    artifact = get_object_or_404(queryset, pk=artifact_id)
    if not can_view_artifact(request.user, artifact):
        raise Http404("No such artifact, or not yours.")
    return artifact
