"""The researcher's study pages: list, create, dashboard, status, clone, members, exports, delete.

Every page needs a log-in; study pages need a role on the study (see ``permissions``).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from studyapp.downloads import report_file_download, study_export_download
from studyapp.forms import StudyForm, StudyModelsForm
from studyapp.models import AuditEvent, Participant, Study, StudyMembership
from studyapp.payloads import declared_length, declared_size
from studyapp.permissions import RANK, Role, study_access, visible_studies
from studyapp.selectors import dashboard
from studyapp.selectors.coverage import plan_balance
from studyapp.selectors.exports import (
    attributes_csv_chunks,
    participants_csv_chunks,
    responses_csv_chunks,
)
from studyapp.selectors.reports import (
    latest_report,
    relevance_previews,
    report_figures,
    report_member,
)
from studyapp.selectors.studies import study_summary
from studyapp.services.attributes import AttachRejected, prolific_export_attach
from studyapp.services.job_graph import pipeline_launch
from studyapp.services.participants import participant_exclusion_set
from studyapp.services.studies import (
    audit_record,
    membership_remove,
    membership_set,
    study_clone,
    study_create,
    study_delete,
    study_models_set,
    study_set_status,
    study_update,
)
from studyapp.views.job_messages import warn_if_queue_down

CHART_NAMES = ("participants", "responses", "rts", "dropout")  # the chart URLs' names
STATUS_MESSAGES = {
    Study.Status.DRAFT: "The study is a draft again: participants cannot start it.",
    Study.Status.LIVE: "The study is open: participants can start it from its link.",
    Study.Status.CLOSED: "The study is closed: no new participant can start it.",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    studies = visible_studies(request.user).order_by("-created_at")
    return render(request, "research/home.html", {"studies": studies})


@login_required
def study_new(request: HttpRequest) -> HttpResponse:
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = study_create(owner=request.user, form=form)
        messages.success(request, f"Created {study.title}; it is a draft until you open it.")
        return redirect("research-study", study.slug)
    return render(request, "research/study_form.html", {"form": form, "study": None})


@study_access(Role.COLLABORATOR)
def study_edit(request: HttpRequest, study: Study) -> HttpResponse:
    form = StudyForm(request.POST or None, instance=study)
    if request.method == "POST" and form.is_valid():
        try:
            study = study_update(form=form)
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Saved.")
            return redirect("research-study", study.slug)
    return render(request, "research/study_form.html", {"form": form, "study": study})


@study_access(Role.VIEWER)
def study_dashboard(request: HttpRequest, study: Study) -> HttpResponse:
    quality = dashboard.participant_quality(study=study)
    context = {
        "study": study,
        "role": request.study_role,
        "can_run": request.study_role in (Role.OWNER, Role.COLLABORATOR),
        "summary": study_summary(study=study),
        "balance": plan_balance(study=study),
        "quality": quality,
        "flagged": [
            q for q in quality if (q["catch_accuracy"] is not None and q["catch_accuracy"] < 1)
        ],
        "jobs": study.jobs.prefetch_related("face_models").order_by("-created_at")[:50],
        "live": dashboard.live_status(study=study),
        "charts": CHART_NAMES,
        "relevance": relevance_previews(study=study),
        "report": (report := latest_report(study=study)),
        "report_figures": report_figures(report) if report else [],
        "models_form": StudyModelsForm(initial={"face_models": study.face_models.all()}),
    }
    return render(request, "research/study_dashboard.html", context)


@study_access(Role.VIEWER)
def study_chart(request: HttpRequest, study: Study, name: str) -> HttpResponse:
    # matplotlib, like the analysis libraries, is imported by the pages that draw with it,
    # so web workers that only serve participants stay small (tests/unit/test_web_imports.py)
    from studyapp import charts

    if name == "participants":
        png = charts.participants_over_time(dashboard.participant_timeline(study=study))
    elif name == "responses":
        png = charts.responses_over_time(*dashboard.responses_over_time(study=study))
    elif name == "rts":
        png = charts.rt_distribution(dashboard.main_trial_rts(study=study))
    else:
        fractions = [q["dropout_at"] for q in dashboard.participant_quality(study=study)]
        png = charts.dropout_points([f for f in fractions if f is not None])
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-cache"
    return response


@require_http_methods(["GET", "POST"])
@study_access(Role.VIEWER)
def study_status(request: HttpRequest, study: Study) -> HttpResponse:
    """GET: the live numbers the dashboard polls (viewers too). POST: open or close the study."""
    if request.method == "GET":
        response = JsonResponse(dashboard.live_status(study=study))
        response["Cache-Control"] = "private, no-store"
        return response
    if RANK[request.study_role] < RANK[Role.COLLABORATOR]:
        raise PermissionDenied("Opening or closing a study needs the collaborator role.")
    try:
        study = study_set_status(
            study=study, status=request.POST.get("status", ""), user=request.user
        )
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, STATUS_MESSAGES[study.status])
    return redirect("research-study", study.slug)


@require_POST
@study_access(Role.COLLABORATOR)
def study_models(request: HttpRequest, study: Study) -> HttpResponse:
    """Tick the models the study compares, from its dashboard."""
    form = StudyModelsForm(request.POST)
    if not form.is_valid():
        problems = " ".join(form.errors.get("face_models", []))
        messages.error(request, f"The models were not saved: {problems}")
        return redirect("research-study", study.slug)
    chosen = list(form.cleaned_data["face_models"])
    study_models_set(study=study, face_models=chosen, user=request.user)
    names = ", ".join(model.name for model in chosen) or "none"
    messages.success(request, f"Models compared: {names}. Run the pipeline to compare them.")
    return redirect("research-study", study.slug)


@require_POST
@study_access(Role.COLLABORATOR)
def participant_exclusion(request: HttpRequest, study: Study, participant_id: int) -> HttpResponse:
    participant = get_object_or_404(Participant, pk=participant_id, study=study)
    choice = request.POST.get("excluded")
    try:
        if choice not in ("0", "1"):
            raise ValueError(f"The 'excluded' field must be 0 or 1; got {choice!r}.")
        participant_exclusion_set(
            participant=participant,
            excluded=choice == "1",
            reason=request.POST.get("reason", ""),
            user=request.user,
        )
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Saved; run the report again to analyse the change.")
    return redirect("research-study", study.slug)


@require_POST
@study_access(Role.COLLABORATOR)
def study_copy(request: HttpRequest, study: Study) -> HttpResponse:
    clone = study_clone(study=study, user=request.user)
    messages.success(request, f"Cloned {study.title} as a draft; change its design here.")
    return redirect("research-study-edit", clone.slug)


@study_access(Role.VIEWER)
def study_members(request: HttpRequest, study: Study) -> HttpResponse:
    if request.method == "POST":
        if request.study_role != Role.OWNER:
            messages.error(request, "Only owners change who has access.")
            return redirect("research-members", study.slug)
        _change_membership(request, study)
        return redirect("research-members", study.slug)
    members = study.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "research/members.html",
        {
            "study": study,
            "members": members,
            "roles": StudyMembership.Role.choices,
            "role": request.study_role,
        },
    )


def _change_membership(request: HttpRequest, study: Study) -> None:
    user = (
        get_user_model().objects.filter(username=request.POST.get("username", "").strip()).first()
    )
    if user is None:
        messages.error(request, "No researcher with that user name.")
        return
    try:
        if request.POST.get("role") == "remove":
            membership_remove(study=study, user=user, by=request.user)
            messages.success(request, f"{user.username} no longer has access to {study.title}.")
        elif request.POST.get("role") in Role.values:
            role = Role(request.POST["role"])
            membership_set(study=study, user=user, role=role, by=request.user)
            messages.success(
                request, f"{user.username} now has the {role.label} role on {study.title}."
            )
        else:
            messages.error(request, "Unknown role.")
    except ValueError as error:
        messages.error(request, str(error))


@require_POST
@study_access(Role.OWNER)
def study_remove(request: HttpRequest, study: Study) -> HttpResponse:
    if request.POST.get("confirm_slug") != study.slug:
        messages.error(request, "Type the study's slug to confirm the deletion.")
        return redirect("research-study", study.slug)
    study_delete(study=study, user=request.user)
    messages.success(request, f"Deleted {study.title} with its participants and responses.")
    return redirect("research-home")


def _csv_export(request: HttpRequest, study: Study, name: str, chunks) -> StreamingHttpResponse:
    audit_record(action=AuditEvent.Action.EXPORT, user=request.user, study=study, export=name)
    download = study_export_download(study, name)
    response = StreamingHttpResponse(chunks, content_type=download.content_type)
    response["Content-Disposition"] = content_disposition_header(True, download.filename)
    return response


@study_access(Role.VIEWER)
def responses_csv(request: HttpRequest, study: Study) -> StreamingHttpResponse:
    return _csv_export(request, study, "responses.csv", responses_csv_chunks(study=study))


@study_access(Role.VIEWER)
def participants_csv(request: HttpRequest, study: Study) -> StreamingHttpResponse:
    return _csv_export(request, study, "participants.csv", participants_csv_chunks(study=study))


@study_access(Role.VIEWER)
def attributes_csv(request: HttpRequest, study: Study) -> StreamingHttpResponse:
    chunks = attributes_csv_chunks(study=study)
    return _csv_export(request, study, "participant-attributes.csv", chunks)


MULTIPART_SLACK = 64 * 1024  # form fields and part headers around the file


@csrf_exempt  # checked below, after the size check (the middleware would read the body first)
@require_POST
@study_access(Role.COLLABORATOR)
def attributes_attach(request: HttpRequest, study: Study) -> HttpResponse:
    """Attach Prolific's demographic export: matched, unmatched and refused files reported."""
    limit = settings.ATTRIBUTES_MAX_BYTES
    declared = declared_length(request)
    if declared > limit + MULTIPART_SLACK:
        error = f"The upload declares {declared_size(declared)}; the limit is {limit:,} bytes."
        return _attach_refused(request, study, error, status=413)
    return csrf_protect(_attach)(request, study)


def _attach(request: HttpRequest, study: Study) -> HttpResponse:
    upload = request.FILES.get("export")
    if upload is None:
        return _attach_refused(request, study, "Choose Prolific's demographic export (CSV).")
    try:
        result = prolific_export_attach(
            study=study, upload=upload, max_bytes=settings.ATTRIBUTES_MAX_BYTES, user=request.user
        )
    except AttachRejected as error:
        return _attach_refused(request, study, str(error))
    messages.success(
        request,
        f"Attached {len(result.columns)} columns to {result.matched} participants; "
        f"{result.unmatched} of {result.rows} rows matched no participant of this study.",
    )
    return redirect("research-study", study.slug)


def _attach_refused(request, study: Study, error: str, status: int = 400) -> HttpResponse:
    context = {"study": study, "error": error}
    return render(request, "research/attributes_refused.html", context, status=status)


@require_POST
@study_access(Role.COLLABORATOR)
def pipeline(request: HttpRequest, study: Study) -> HttpResponse:
    try:
        jobs = pipeline_launch(study=study, user=request.user)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Launched the pipeline: {len(jobs)} jobs.")
        warn_if_queue_down(request, list(jobs.values()))
    return redirect("research-study", study.slug)


REPORT_SUFFIXES = {".html", ".png", ".pdf", ".csv", ".json", ".npz", ".pkl"}
REPORT_PAGES = {".html", ".png"}  # viewing, not exporting: not audited
# The report is a self-contained page (also read offline from its zip) with embedded CSS:
# its styles may be inline, but it runs no script at all.
REPORT_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
)


@study_access(Role.VIEWER)
def report_file(request: HttpRequest, study: Study, name: str = "index.html") -> HttpResponse:
    """A file of the study's newest report (the HTML page, its figures, the PDF, exports)."""
    artifact = latest_report(study=study)
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if artifact is None or suffix not in REPORT_SUFFIXES:
        raise Http404("No report yet, or no such file in it.")
    try:
        data = report_member(artifact, name)
    except KeyError as error:
        raise Http404("No such file in the report.") from error
    if suffix not in REPORT_PAGES:
        audit_record(
            action=AuditEvent.Action.EXPORT, user=request.user, study=study, export=f"report/{name}"
        )
    download = report_file_download(study, name)
    response = HttpResponse(data, content_type=download.content_type)
    response["Content-Security-Policy"] = REPORT_POLICY
    if suffix not in REPORT_PAGES:
        response["Content-Disposition"] = content_disposition_header(True, download.filename)
    return response
