"""Participant JSON API: the plan, responses, client description, completion.

Every error is a 4xx JSON body ``{"error": {"code", "message", "field"}}``.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, JsonResponse

from studyapp.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    RequestRejected,
    Unprocessable,
    rejection_response,
)
from studyapp.models import Participant
from studyapp.payloads import MAX_VIEWPORT_PX, parse_response, read_json_object
from studyapp.ratelimit import rate_limit
from studyapp.selectors.plans import participant_plan
from studyapp.services.participants import (
    IncompleteSession,
    participant_complete,
    participant_record_client,
)
from studyapp.services.responses import response_record
from studyapp.services.screening import screening_answer_comprehension, screening_check_setup

CLIENT_FIELDS = {"userAgent", "language", "platform", "timezone", "touch", "devicePixelRatio"}


def allow(method: str) -> Callable:
    """Only ``method``; any other gets a 405 JSON error with ``Allow``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method == method:
                return view(request, *args, **kwargs)
            response = rejection_response(
                MethodNotAllowed("method_not_allowed", f"This address takes {method} only.")
            )
            response["Allow"] = method
            return response

        return wrapper

    return decorator


def json_errors(view: Callable) -> Callable:
    """Turn a rejected request into its 4xx JSON body."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str) -> JsonResponse:
        try:
            return view(request, token)
        except RequestRejected as rejected:
            return rejection_response(rejected)

    return wrapper


def participant_api(view: Callable) -> Callable:
    """Resolve the session token (404 when unknown); rejections become JSON errors."""

    @json_errors
    @wraps(view)
    def wrapper(request: HttpRequest, token: str) -> JsonResponse:
        participant = Participant.objects.select_related("study").filter(token=token).first()
        if participant is None:
            raise NotFound("unknown_session", "This session does not exist.")
        return view(request, participant)

    return wrapper


@allow("GET")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@participant_api
def plan(request: HttpRequest, participant: Participant) -> JsonResponse:
    return JsonResponse(participant_plan(participant=participant))


@allow("POST")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@json_errors
def responses(request: HttpRequest, token: str) -> JsonResponse:
    """The hot path: one query finds the session, the trial and any stored response.

    A refused answer is counted on its session (``refused_responses``), in the one UPDATE that
    also tells an unknown session apart.
    """
    try:
        payload = parse_response(read_json_object(request, settings.PARTICIPANT_MAX_BODY_BYTES))
        stored, created = response_record(token=token, payload=payload)
    except RequestRejected:
        refused = F("refused_responses") + 1
        if not Participant.objects.filter(token=token).update(refused_responses=refused):
            raise NotFound("unknown_session", "This session does not exist.") from None
        raise
    body = {"trial": payload.trial, "duplicate": not created, "received_at": stored.received_at}
    if stored.bubbles_count is not None:  # answered: the runner's staircase needs the outcome
        body["correct"] = stored.correct
    return JsonResponse(body, status=201 if created else 200)


@allow("POST")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@participant_api
def client(request: HttpRequest, participant: Participant) -> JsonResponse:
    data = read_json_object(request, settings.PARTICIPANT_MAX_BODY_BYTES)
    record = {}
    for key in CLIENT_FIELDS & data.keys():
        if isinstance(data[key], dict | list):
            raise BadRequest("invalid_type", f"'{key}' must be a string, number or boolean.", key)
        record[key] = str(data[key])[:300]
    viewport = data.get("viewport")
    if isinstance(viewport, dict):
        record["viewport"] = {
            key: viewport[key]
            for key in ("width", "height")
            if isinstance(viewport.get(key), int) and 0 <= viewport[key] <= MAX_VIEWPORT_PX
        }
    participant_record_client(participant=participant, client=record)
    return JsonResponse({"recorded": True})


def _viewport_size(data: dict) -> tuple[int, int]:
    viewport = data.get("viewport")
    if not isinstance(viewport, dict) or not all(
        isinstance(viewport.get(key), int)
        and not isinstance(viewport.get(key), bool)
        and 0 <= viewport[key] <= MAX_VIEWPORT_PX
        for key in ("width", "height")
    ):
        raise BadRequest(
            "invalid_viewport",
            "'viewport' must be an object with 'width' and 'height' in whole CSS px, "
            f"0 to {MAX_VIEWPORT_PX}; got {viewport!r}.",
            "viewport",
        )
    return viewport["width"], viewport["height"]


def _screening_body(participant: Participant, **extra) -> JsonResponse:
    return JsonResponse({"screening": participant.screening, **extra})


@allow("POST")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@participant_api
def screening(request: HttpRequest, participant: Participant) -> JsonResponse:
    """The window and device check: ``{"viewport": {"width", "height"}, "touch_only": bool}``."""
    data = read_json_object(request, settings.PARTICIPANT_MAX_BODY_BYTES)
    width, height = _viewport_size(data)
    touch_only = data.get("touch_only", False)
    if not isinstance(touch_only, bool):
        raise BadRequest("invalid_type", "'touch_only' must be true or false.", "touch_only")
    checked = screening_check_setup(
        participant=participant,
        width=width,
        height=height,
        user_agent=request.headers.get("User-Agent", ""),
        touch_only=touch_only,
    )
    return _screening_body(checked)


@allow("POST")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@participant_api
def comprehension(request: HttpRequest, participant: Participant) -> JsonResponse:
    """One attempt at the comprehension check: ``{"answers": [option index, ...]}``."""
    data = read_json_object(request, settings.PARTICIPANT_MAX_BODY_BYTES)
    checked, correct = screening_answer_comprehension(
        participant=participant, answers=data.get("answers")
    )
    left = participant.study.comprehension_attempts - checked.comprehension_failures
    return _screening_body(checked, correct=correct, attempts_left=max(left, 0))


@allow("POST")
@rate_limit("api", "FACESIM_RATE_API_PER_MINUTE", by="token")
@participant_api
def complete(request: HttpRequest, participant: Participant) -> JsonResponse:
    try:
        done = participant_complete(participant=participant)
    except IncompleteSession as incomplete:
        raise Unprocessable(
            "incomplete",
            f"{len(incomplete.missing)} trials have no stored response yet: "
            f"{incomplete.missing[:20]}.",
        ) from incomplete
    study = done.study
    return JsonResponse(
        {"completion_code": study.completion_code, "redirect_url": study.redirect_url}
    )
