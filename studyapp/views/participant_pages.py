"""Participant pages: start link, consent, questionnaire, the trial runner shell."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studyapp.models import Participant, Study
from studyapp.questionnaire import QuestionnaireForm
from studyapp.ratelimit import rate_limit
from studyapp.selectors.studies import study_design_problems
from studyapp.services.attributes import questionnaire_submit
from studyapp.services.participants import (
    ExternalIds,
    StudyUnavailable,
    participant_decline,
    participant_find,
    participant_start,
    study_is_full,
)
from studyapp.tokens import is_session_token

COOKIE_MAX_AGE = 60 * 60 * 24 * 30
MAX_EXTERNAL_ID_LENGTH = 128


def _cookie_name(study: Study) -> str:
    return f"facesim_{study.pk}"


def _external_ids(params) -> ExternalIds | None:
    """Ids from a Prolific-style link (``PROLIFIC_PID``) or a plain ``participant`` id."""
    values = {
        key: params.get(key, "").strip()
        for key in ("PROLIFIC_PID", "participant", "STUDY_ID", "SESSION_ID")
    }
    if any(len(v) > MAX_EXTERNAL_ID_LENGTH or not v.isprintable() for v in values.values()):
        return None
    if values["PROLIFIC_PID"]:
        source, pid = Participant.Source.PROLIFIC, values["PROLIFIC_PID"]
    elif values["participant"]:
        source, pid = Participant.Source.LINK, values["participant"]
    else:
        source, pid = Participant.Source.ANONYMOUS, ""
    return ExternalIds(pid, values["STUDY_ID"], values["SESSION_ID"], source)


def _message(request: HttpRequest, kind: str, study: Study | None = None, status: int = 200):
    return render(
        request, "participant/message.html", {"kind": kind, "study": study}, status=status
    )


def _entry(request: HttpRequest, slug: str, params) -> tuple[Study, ExternalIds] | HttpResponse:
    """The study of a start link and the ids it carries, or the page that says why not."""
    study = Study.objects.select_related("stimulus_set").filter(slug=slug).first()
    if study is None:
        return _message(request, "not_found", status=404)
    external = _external_ids(params)
    if external is None:
        return _message(request, "bad_link", study, status=400)
    return study, external


def _to_runner(participant: Participant, study: Study) -> HttpResponse:
    response = redirect("participant-runner", token=participant.token)
    response.set_cookie(
        _cookie_name(study),
        participant.token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,  # HTTPS only wherever the session cookie is
    )
    return response


def _returning(request: HttpRequest, study: Study, external: ExternalIds) -> Participant | None:
    if external.participant:
        return participant_find(study=study, external=external)
    token = request.COOKIES.get(_cookie_name(study))
    if not is_session_token(token):
        return None
    return Participant.objects.filter(study=study, token=token).first()


@require_GET
@rate_limit("start", "FACESIM_RATE_START_PER_MINUTE", by="address")
def study_start(request: HttpRequest, slug: str) -> HttpResponse:
    """The study link: returning participants resume, new ones see the consent form."""
    entry = _entry(request, slug, request.GET)
    if isinstance(entry, HttpResponse):
        return entry
    study, external = entry
    returning = _returning(request, study, external)
    if returning is not None:
        return _to_runner(returning, study)
    unavailable = _unavailable_reason(study)
    if unavailable:
        return _message(request, unavailable, study)
    return render(
        request,
        "participant/consent.html",
        {"study": study, "external": external, "action": reverse("study-consent", args=[slug])},
    )


def _unavailable_reason(study: Study) -> str | None:
    if study.status != Study.Status.LIVE:
        return study.status
    if study_is_full(study=study):
        return "full"
    if study_design_problems(study=study):
        return "unavailable"
    return None


@require_POST
@rate_limit("start", "FACESIM_RATE_START_PER_MINUTE", by="address")
def study_consent(request: HttpRequest, slug: str) -> HttpResponse:
    """The consent decision: decline keeps only a count; agree creates the session."""
    entry = _entry(request, slug, request.POST)
    if isinstance(entry, HttpResponse):
        return entry
    study, external = entry
    decision = request.POST.get("decision")
    if decision == "decline":
        participant_decline(study=study)
        return _message(request, "declined", study)
    if decision != "agree":
        return _message(request, "bad_link", study, status=400)
    returning = _returning(request, study, external)
    if returning is not None:
        return _to_runner(returning, study)
    try:
        participant = participant_start(study=study, external=external)
    except StudyUnavailable as unavailable:
        return _message(request, unavailable.reason, study)
    return _to_runner(participant, study)


@require_GET
def participant_runner(request: HttpRequest, token: str) -> HttpResponse:
    """The single page that runs instructions, practice, trials, breaks and debrief."""
    participant = Participant.objects.select_related("study").filter(token=token).first()
    if participant is None:
        return _message(request, "not_found", status=404)
    study = participant.study
    if _questionnaire_due(participant):
        return redirect("participant-questionnaire", token=token)
    low, high = study.rating_range
    config = {
        "planUrl": reverse("api-plan", args=[token]),
        "responsesUrl": reverse("api-responses", args=[token]),
        "clientUrl": reverse("api-client", args=[token]),
        "completeUrl": reverse("api-complete", args=[token]),
        "screeningUrl": reverse("api-screening", args=[token]),
        "comprehensionUrl": reverse("api-comprehension", args=[token]),
        "storageKey": f"facesim:{token}",
        "attemptKey": f"facesim-attempt:{token}",
        "breakEvery": study.break_every,
        "rating": {"min": low, "max": high},
        "csrfToken": get_token(request),
    }
    return render(request, "participant/runner.html", {"study": study, "config": config})


def _questionnaire_due(participant: Participant) -> bool:
    return (
        bool(participant.study.questionnaire)
        and participant.questionnaire_at is None
        and participant.status == Participant.Status.STARTED
    )


@require_http_methods(["GET", "POST"])
def participant_questionnaire(request: HttpRequest, token: str) -> HttpResponse:
    """The study's questionnaire, once, between consent and the trials."""
    participant = Participant.objects.select_related("study").filter(token=token).first()
    if participant is None:
        return _message(request, "not_found", status=404)
    if not _questionnaire_due(participant):
        return redirect("participant-runner", token=token)
    study = participant.study
    form = QuestionnaireForm(study.questionnaire, request.POST or None)
    if request.method == "POST" and form.is_valid():
        questionnaire_submit(participant=participant, answers=form.answers())
        return redirect("participant-runner", token=token)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "participant/questionnaire.html", {"study": study, "form": form}, status=status
    )
