"""Participant sessions: start (with the trial plan), decline, record the client, complete,
exclude or include again, erase."""

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from studyapp.models import Artifact, AuditEvent, Participant, Response, Study, Trial
from studyapp.pseudonyms import pseudonymise
from studyapp.selectors.coverage import kept_sessions, pools_plans
from studyapp.selectors.coverage_snapshots import coverage_current, coverage_prepare
from studyapp.selectors.studies import study_design_problems
from studyapp.services.adaptive import adaptive_plan_apply
from studyapp.services.artifacts import study_artifacts_delete
from studyapp.services.plan_pool import (
    design_key,
    fill_lock_take,
    plan_pool_take,
    planned_trials,
)
from studyapp.services.plans import (
    block_order_counts,
    plan_compute,
    plan_settings,
    study_locked_for_planning,
    trial_plan_store,
)
from studyapp.services.screening import screening_refusal
from studyapp.services.studies import audit_record

MAX_CLIENT_RECORDS = 10
MAX_EXCLUSION_REASON = 500


class StudyUnavailable(Exception):
    """The study takes no new participants; ``reason``: 'draft', 'closed', 'full', 'unavailable'.

    'unavailable': its design cannot be planned from its stimulus set.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IncompleteSession(Exception):
    """Completion was requested while some planned trials have no stored response."""

    def __init__(self, missing: list[int]):
        super().__init__(f"{len(missing)} trials have no stored response")
        self.missing = missing


@dataclass(frozen=True)
class ExternalIds:
    """Ids a recruitment platform passes in the start link (raw; only their hashes are kept)."""

    participant: str = ""
    study: str = ""
    session: str = ""
    source: str = Participant.Source.ANONYMOUS


def participant_find(*, study: Study, external: ExternalIds) -> Participant | None:
    """The session of this external participant id in this study, if there is one."""
    if not external.participant:
        return None
    return Participant.objects.filter(
        study=study, pseudonym=pseudonymise(external.participant)
    ).first()


def participant_start(*, study: Study, external: ExternalIds) -> Participant:
    """Create a consenting participant's session and trial plan, or return their existing one.

    Starts of one study are ordered by the study's planning lock (a PostgreSQL advisory lock),
    so each plan counts every plan handed out before it and the target number of participants
    is never exceeded. Under it a start takes the oldest plan computed ahead
    (``services.plan_pool``); when there is none it plans for itself after any fill in
    progress: what grows with the study (reading its coverage) is done before the lock
    (``coverage_prepare``), under it only the participants started since are added
    (``coverage_current``), then the plan is computed and stored. The study row is held with
    ``FOR KEY SHARE``: a design edit or status change waits for the starts in progress (and
    they for it), while declines and other plain updates do not.
    """
    existing = participant_find(study=study, external=external)
    if existing is not None:  # a retried or duplicated start: nothing to plan
        return existing
    if pools_plans(study):
        participant = _participant_create(study, external, plan_itself=False)
        if participant is not None:
            return participant
    stimulus_ids = tuple(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    coverage_prepare(study=study, stimulus_ids=stimulus_ids)
    return _participant_create(study, external, plan_itself=True)


def _participant_create(
    study: Study, external: ExternalIds, *, plan_itself: bool
) -> Participant | None:
    """The session with a pooled plan or, with ``plan_itself``, one planned now (else None
    when the pool is empty)."""
    with transaction.atomic():
        if plan_itself:
            fill_lock_take(study)
        study = study_locked_for_planning(study)
        existing = participant_find(study=study, external=external)
        if existing is not None:
            return existing
        if study.status != Study.Status.LIVE:
            raise StudyUnavailable(study.status)
        if study_is_full(study=study):
            raise StudyUnavailable("full")
        if study_design_problems(study=study):  # e.g. its set lost images after it went live
            raise StudyUnavailable("unavailable")
        stimulus_ids = tuple(  # again under the lock: the set may have changed meanwhile
            study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)
        )
        settings = plan_settings(study=study)
        pooled = plan_pool_take(study=study, key=design_key(settings, stimulus_ids))
        if pooled is not None:
            plan_seed, block_order = pooled.plan_seed, pooled.block_order
            plan = planned_trials(pooled)
        elif not plan_itself:
            return None
        else:
            coverage = coverage_current(study=study, stimulus_ids=stimulus_ids)
            uses = block_order_counts(study=study, settings=settings)
            plan_seed = secrets.randbits(63)
            block_order, plan = plan_compute(
                settings=settings,
                n_items=len(stimulus_ids),
                coverage=coverage,
                uses=uses,
                seed=plan_seed,
            )
        participant = Participant.objects.create(
            study=study,
            token=secrets.token_urlsafe(24),
            pseudonym=pseudonymise(external.participant)
            if external.participant
            else "anon-" + secrets.token_hex(16),
            source=external.source,
            external_study_hash=pseudonymise(external.study) if external.study else "",
            external_session_hash=pseudonymise(external.session) if external.session else "",
            plan_seed=plan_seed,
            block_order=block_order,
            screening=Participant.Screening.PENDING
            if study.screening_required
            else Participant.Screening.NONE,
        )
        plan = adaptive_plan_apply(
            participant=participant, plan=plan, stimulus_ids=list(stimulus_ids)
        )
        trial_plan_store(participant=participant, plan=plan, stimulus_ids=stimulus_ids)
        return participant


def study_is_full(*, study: Study) -> bool:
    """Kept sessions (not excluded or screened out; completed or active) reach the target."""
    return kept_sessions(study=study).count() >= study.target_participants


def participant_decline(*, study: Study) -> None:
    """Count a declined consent; nothing else about the person is kept."""
    Study.objects.filter(pk=study.pk).update(declined_count=F("declined_count") + 1)


def participant_record_client(*, participant: Participant, client: dict) -> None:
    """Keep the last few client descriptions (viewport, browser) of a session."""
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        records = [*locked.client_info.get("clients", []), client][-MAX_CLIENT_RECORDS:]
        locked.client_info = {**locked.client_info, "clients": records}
        locked.last_seen_at = timezone.now()
        locked.save(update_fields=["client_info", "last_seen_at"])


def participant_complete(*, participant: Participant) -> Participant:
    """Mark a session completed once every planned trial has a stored response.

    A session screened out (or not yet screened in) is refused: it gets no completion code.
    """
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.status == Participant.Status.COMPLETED:
            return locked
        refusal = screening_refusal(locked.screening)
        if refusal is not None:
            raise refusal
        missing = list(
            Trial.objects.filter(participant=locked, response__isnull=True)
            .order_by("index")
            .values_list("index", flat=True)
        )
        if missing:
            raise IncompleteSession(missing)
        locked.status = Participant.Status.COMPLETED
        locked.completed_at = locked.last_seen_at = timezone.now()
        locked.save(update_fields=["status", "completed_at", "last_seen_at"])
        return locked


def participant_exclusion_set(
    *, participant: Participant, excluded: bool, reason: str, user
) -> Participant:
    """Exclude a participant from the analysis (and the target count), or include them again.

    A reason is required either way; the change is audited. The analysis drops participants
    whose exported ``participant_status`` is "excluded"; the study's target counts only the
    kept ones, so an exclusion reopens a place.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("The 'reason' parameter must be a non-empty text; got an empty one.")
    if len(reason) > MAX_EXCLUSION_REASON:
        raise ValueError(
            f"The 'reason' parameter must be at most {MAX_EXCLUSION_REASON} characters; "
            f"got {len(reason)}."
        )
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.excluded == excluded:
            state = "excluded" if excluded else "included"
            raise ValueError(f"This participant is already {state}.")
        locked.excluded = excluded
        locked.exclusion_reason = reason if excluded else ""
        locked.save(update_fields=["excluded", "exclusion_reason"])
        audit_record(
            action=AuditEvent.Action.EXCLUSION,
            user=user,
            study=locked.study,
            participant=locked.pk,
            excluded=excluded,
            reason=reason,
        )
        return locked


def participant_data_delete(
    *, pseudonym: str, study: Study | None = None, dry_run: bool = False
) -> dict:
    """Delete every session (trials, responses, attributes) of one person, e.g. on a GDPR request.

    See ``participant_sessions_erase``; returns what was (or would be) deleted, per study.
    """
    sessions = Participant.objects.filter(pseudonym=pseudonym)
    if study is not None:
        sessions = sessions.filter(study=study)
    return participant_sessions_erase(sessions=sessions, dry_run=dry_run)


def participant_sessions_erase(*, sessions, user=None, dry_run: bool = False) -> dict:
    """Delete participant sessions (a queryset) with their trials, responses and attributes
    (questionnaire answers, attached columns).

    The study's reports contain the sessions' rows, so they are deleted too (with their
    files; run the report again to regenerate it). Returns what was (or, with ``dry_run``,
    would be) deleted, per study; an audit entry per session records the counts only.
    """
    report: dict[str, dict] = {}
    with transaction.atomic():
        for session in sessions.select_related("study"):
            counts = {
                "trials": session.trials.count(),
                "responses": Response.objects.filter(trial__participant=session).count(),
                "attributes": session.attributes.count(),
                "reports": Artifact.objects.filter(study=session.study).count(),
            }
            totals = report.setdefault(session.study.slug, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                totals[key] += value
            if not dry_run:
                session.delete()
                study_artifacts_delete(study=session.study)
                audit_record(
                    action=AuditEvent.Action.DATA_DELETION,
                    user=user,
                    study=session.study,
                    **counts,
                )
    return report
