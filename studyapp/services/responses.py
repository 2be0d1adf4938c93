"""Store a participant's response: exactly one per trial, however often it is sent."""

import contextlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from studyapp.arrangement import arrangement_check, arrangement_plan_next
from studyapp.bubbles import bubbles_correct, match_trial
from studyapp.errors import NotFound, Unprocessable
from studyapp.models import Participant, Response, Study, Trial
from studyapp.payloads import ResponsePayload
from studyapp.services.screening import screening_refusal

# A rating catch trial shows one image twice: answers in the top sixth of the scale are correct.
CATCH_RATING_FRACTION = 5 / 6
LAST_SEEN_RESOLUTION = timedelta(seconds=30)

# The hot path of the participant API is written in SQL: the ORM spent about as much CPU
# compiling these two statements for every POST as PostgreSQL spent running them.
TRIAL_QUERY = """
SELECT t.id, t.trial_type, t.role, t.items, t.correct_item, p.id, p.last_seen_at,
       s.rating_scale, s.min_rt_ms, r.id, p.screening,
       t.bubbles_seed, s.bubbles, s.stimulus_set_id, st.labels ->> (s.bubbles ->> 'label')
FROM studyapp_trial t
JOIN studyapp_participant p ON p.id = t.participant_id
JOIN studyapp_study s ON s.id = p.study_id
LEFT JOIN studyapp_response r ON r.trial_id = t.id
LEFT JOIN studyapp_stimulus st ON t.trial_type = 'bubbles' AND st.id = t.items[1]
WHERE p.token = %s AND t.index = %s
"""
# Stored as the runner sent them (checked in ``parse_response``).
MEASURED_FIELDS = (
    "responded_at",
    "viewport_width",
    "viewport_height",
    "refresh_ms",
    "stimulus_onset_ms",
    "stimulus_offset_ms",
    "too_slow",
    "hidden_count",
    "blur_count",
    "fullscreen_exits",
    "interrupted_attempts",
    "bubbles_count",
    "bubbles_level",
    "positions",
    "moves",
)
JSON_COLUMNS = {"positions", "moves"}
INSERT_COLUMNS = (
    "trial_id",
    "choice",
    "rating",
    "rt_ms",
    "correct",
    "received_at",
    *MEASURED_FIELDS,
)
INSERT_RESPONSE = f"""
INSERT INTO studyapp_response ({", ".join(INSERT_COLUMNS)})
VALUES ({", ".join("%s::jsonb" if c in JSON_COLUMNS else "%s" for c in INSERT_COLUMNS)})
ON CONFLICT (trial_id) DO NOTHING
RETURNING id
"""


def response_record(*, token: str, payload: ResponsePayload) -> tuple[Response, bool]:
    """Store the response to a trial of the session ``token``; returns ``(response, created)``.

    A session screened out is refused (403), one not yet screened in too (409).
    A repeated POST for the same trial returns the stored response (``created`` False) and
    writes nothing: the unique constraint on ``Response.trial`` decides under concurrency
    (``ON CONFLICT DO NOTHING``). Two statements in the usual case: the trial with its
    session, study and any stored response's id, then the INSERT.
    """
    with connection.cursor() as cursor:
        cursor.execute(TRIAL_QUERY, [token, payload.trial])
        row = cursor.fetchone()
    if row is None:
        if not Participant.objects.filter(token=token).exists():
            raise NotFound("unknown_session", "This session does not exist.")
        raise NotFound(
            "unknown_trial", f"Trial {payload.trial} is not part of this session.", "trial"
        )
    trial_id, trial_type, role, items, correct_item, participant_id, last_seen = row[:7]
    scale, rt_floor, stored, screening, bubbles_seed, bubbles, set_id, label_value = row[7:]
    refusal = screening_refusal(screening)
    if refusal is not None:
        raise refusal
    if stored is not None:
        return Response.objects.get(pk=stored), False
    participant = Participant(id=participant_id, last_seen_at=last_seen)
    trial = Trial(
        id=trial_id,
        trial_type=trial_type,
        role=role,
        items=items,
        correct_item=correct_item,
        bubbles_seed=bubbles_seed,
    )
    study = Study(  # Django leaves jsonb as text in raw queries
        rating_scale=scale, min_rt_ms=rt_floor, bubbles=json.loads(bubbles), stimulus_set_id=set_id
    )
    response = _validated_response(trial, payload, study)
    if trial_type == "bubbles":
        response.correct = bubbles_correct(trial, payload, study, label_value)
    response.received_at = timezone.now()
    values = [_column_value(response, name) for name in INSERT_COLUMNS[1:]]
    # An arrangement's next trial is chosen in the transaction that stores it: both or neither
    # (other trials write one row: no transaction round trips on the hot path).
    plans_next = trial_type == "arrangement" and role == Trial.Role.MAIN
    atomic = transaction.atomic() if plans_next else contextlib.nullcontext()
    with atomic, connection.cursor() as cursor:
        cursor.execute(INSERT_RESPONSE, [trial_id, *values])
        inserted = cursor.fetchone()
        if inserted is not None and plans_next:
            arrangement_plan_next(participant_id=participant_id)
    if inserted is None:  # a concurrent POST of the same trial stored it first
        return Response.objects.get(trial_id=trial_id), False
    response.pk = inserted[0]
    _touch(participant)
    return response, True


def _column_value(response: Response, name: str):
    value = getattr(response, name)
    return json.dumps(value) if name in JSON_COLUMNS and value is not None else value


def _validated_response(trial: Trial, payload: ResponsePayload, study: Study) -> Response:
    # The floor keeps anticipations (and the 5e-324 ms of a forged body) out of the data.
    low, high = study.min_rt_ms, settings.PARTICIPANT_MAX_RT_MS
    if not (low <= payload.rt_ms <= high and payload.rt_ms > 0):
        raise Unprocessable(
            "implausible_rt",
            f"'rt_ms' must be above 0 and in [{low}, {high}] (the study's floor and the "
            f"longest RT); got {payload.rt_ms}.",
            "rt_ms",
        )
    response = Response(
        trial=trial,
        rt_ms=payload.rt_ms,
        **{name: getattr(payload, name) for name in MEASURED_FIELDS},
    )
    sent = (payload.bubbles_seed, payload.bubbles_count, payload.bubbles_level)
    if trial.trial_type != "bubbles" and any(value is not None for value in sent):
        raise Unprocessable("unexpected_bubbles", "Only Bubbles trials take 'bubbles'.", "bubbles")
    arrangement_check(trial, payload)
    if trial.trial_type == "arrangement":
        return response
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
    if trial.trial_type == "afc" or match_trial(trial):
        choosable = trial.items[1:]
    else:
        choosable = [0, 1] if trial.trial_type == "bubbles" else trial.items
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
