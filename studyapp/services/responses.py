"""Store a participant's response: exactly one per trial, however often it is sent."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from studyapp.errors import NotFound, Unprocessable
from studyapp.models import Participant, Response, Study, Trial
from studyapp.payloads import ResponsePayload

# A rating catch trial shows one image twice: answers in the top sixth of the scale are correct.
CATCH_RATING_FRACTION = 5 / 6
LAST_SEEN_RESOLUTION = timedelta(seconds=30)
# Only what storing a response needs (not the study's texts or the session's client records).
RESPONSE_QUERY_FIELDS = (
    "id",
    "index",
    "trial_type",
    "role",
    "items",
    "correct_item",
    "participant__id",
    "participant__last_seen_at",
    "participant__study__id",
    "participant__study__rating_scale",
    "response__id",
    "response__choice",
    "response__rating",
    "response__received_at",
)


def response_record(*, token: str, payload: ResponsePayload) -> tuple[Response, bool]:
    """Store the response to a trial of the session ``token``; returns ``(response, created)``.

    A repeated POST for the same trial returns the stored response (``created`` False) and
    writes nothing: the unique constraint on ``Response.trial`` decides under concurrency.
    Two queries in the usual case: the trial with its session, study and any stored response,
    then the INSERT (one statement, atomic on its own in autocommit mode).
    """
    try:
        trial = (
            Trial.objects.select_related("participant__study", "response")
            .only(*RESPONSE_QUERY_FIELDS)
            .get(participant__token=token, index=payload.trial)
        )
    except Trial.DoesNotExist:
        if not Participant.objects.filter(token=token).exists():
            raise NotFound("unknown_session", "This session does not exist.") from None
        raise NotFound(
            "unknown_trial", f"Trial {payload.trial} is not part of this session.", "trial"
        ) from None
    if hasattr(trial, "response"):
        return trial.response, False
    response = _validated_response(trial, payload, trial.participant.study)
    try:
        _insert(response)
    except IntegrityError:
        stored = Response.objects.filter(trial=trial).first()
        if stored is None:
            raise
        return stored, False
    _touch(trial.participant)
    return response, True


def _insert(response: Response) -> None:
    """One INSERT; inside a caller's transaction, behind a savepoint so a conflict does not
    abort the caller's transaction."""
    if connection.in_atomic_block:
        with transaction.atomic():
            response.save(force_insert=True)
    else:
        response.save(force_insert=True)


def _validated_response(trial: Trial, payload: ResponsePayload, study: Study) -> Response:
    if not 0 < payload.rt_ms <= settings.PARTICIPANT_MAX_RT_MS:
        raise Unprocessable(
            "implausible_rt",
            f"'rt_ms' must be in (0, {settings.PARTICIPANT_MAX_RT_MS}]; got {payload.rt_ms}.",
            "rt_ms",
        )
    response = Response(
        trial=trial,
        rt_ms=payload.rt_ms,
        responded_at=payload.responded_at,
        viewport_width=payload.viewport_width,
        viewport_height=payload.viewport_height,
    )
    if trial.trial_type == "rating":
        response.rating = _checked_rating(payload, study)
        if trial.role == Trial.Role.CATCH:
            low, high = study.rating_range
            response.correct = response.rating >= low + CATCH_RATING_FRACTION * (high - low)
    else:
        response.choice = _checked_choice(trial, payload)
        if trial.role == Trial.Role.CATCH:
            response.correct = response.choice == trial.correct_item
    return response


def _checked_choice(trial: Trial, payload: ResponsePayload) -> int:
    if payload.rating is not None:
        raise Unprocessable("unexpected_rating", "This trial takes a 'choice', not a rating.")
    choosable = trial.items[1:] if trial.trial_type == "afc" else trial.items
    if payload.choice is None:
        raise Unprocessable("missing_choice", "This trial needs a 'choice'.", "choice")
    if payload.choice not in choosable:
        raise Unprocessable(
            "invalid_choice",
            f"'choice' must be one of {sorted(set(choosable))}; got {payload.choice}.",
            "choice",
        )
    return payload.choice


def _checked_rating(payload: ResponsePayload, study: Study) -> float:
    if payload.choice is not None:
        raise Unprocessable("unexpected_choice", "This trial takes a 'rating', not a choice.")
    if payload.rating is None:
        raise Unprocessable("missing_rating", "This trial needs a 'rating'.", "rating")
    low, high = study.rating_range
    if not low <= payload.rating <= high or (
        study.rating_scale == Study.RatingScale.LIKERT_7 and not payload.rating.is_integer()
    ):
        raise Unprocessable(
            "invalid_rating",
            f"'rating' must be {'a whole number ' if high == 7 else ''}in [{low}, {high}]; "
            f"got {payload.rating}.",
            "rating",
        )
    return payload.rating


def _touch(participant: Participant) -> None:
    """Refresh ``last_seen_at`` at most every LAST_SEEN_RESOLUTION (one UPDATE, no lock)."""
    now = timezone.now()
    if now - participant.last_seen_at >= LAST_SEEN_RESOLUTION:
        Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
        participant.last_seen_at = now
