"""Plans computed ahead of participants' starts, so that a burst of starts does not wait on
the planner (issue 16).

A ``cpu`` task (``plan_pool_fill``) keeps up to ``FACESIM_PLAN_POOL_SIZE`` plans per live
study, each computed from the counts of every session and every pooled plan before it, as a
start would compute it. A start takes the oldest pooled plan under the study's planning lock
(``plan_pool_take``): no planning while others wait. A pool that ran dry makes the start plan
for itself as before, after any fill in progress (the fill lock orders the two), so every
plan still counts all plans handed out before it.

Locks, always in this order: the fill lock (a fill, or a start that plans for itself), then
the planning lock (``plans.study_locked_for_planning``: taking or adding a plan).
The pool is checked against the design it was planned for (``design_key``): an edited design
or stimulus set makes it stale, and the first start after the edit drops it. Sessions that
stop counting (time-outs, exclusions) reach the pool at its next fill; plans already pooled
keep the counts they were planned from. Adaptive studies do not pool (their plans follow the
newest fitted state).
"""

import hashlib
import json
import logging
import secrets
from dataclasses import asdict

import numpy as np
from celery import current_app
from django.conf import settings as django_settings
from django.db import connection, transaction
from kombu.exceptions import KombuError

from studyapp.models import PooledPlan, Study
from studyapp.planning import Coverage, PlannedTrial, PlanSettings
from studyapp.selectors.coverage import coverage_add, kept_sessions, pools_plans
from studyapp.selectors.coverage_snapshots import coverage_current, coverage_prepare
from studyapp.services.plans import (
    block_order_counts,
    plan_compute,
    plan_settings,
    study_locked_for_planning,
)

logger = logging.getLogger(__name__)

FILL_LOCK = 0x57A8  # first key of the per-study fill lock (second: the study's key)
FILL_TASK = "facesim.plan_pool_fill"
FILL_CHUNK = 10  # plans computed per read of the counts; each chunk is stored at once


def design_key(settings: PlanSettings, stimulus_ids: tuple[int, ...]) -> str:
    """What a pooled plan depends on: the plan settings and the stimulus list."""
    text = json.dumps([asdict(settings), stimulus_ids], sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def plan_pool_take(*, study: Study, key: str) -> PooledPlan | None:
    """Under the planning lock: remove and return the oldest pooled plan of ``key`` (stale
    ones are dropped), or None when there is none. Asks for a fill when the pool runs low."""
    pool = PooledPlan.objects.filter(study=study)
    taken = pool.first()
    if taken is not None and taken.design_key != key:  # the design changed since it was pooled
        pool.exclude(design_key=key).delete()
        taken = pool.first()
    if taken is None:
        return None
    taken.delete()
    left = pool.count()
    if left == django_settings.FACESIM_PLAN_POOL_SIZE // 2:
        transaction.on_commit(lambda: plan_pool_request(study=study))
    return taken


def planned_trials(pooled: PooledPlan) -> list[PlannedTrial]:
    """A pooled plan's trials as the planner made them."""
    return [PlannedTrial(**{**row, "items": tuple(row["items"])}) for row in pooled.trials]


def pooled_counts(
    study: Study, n_items: int, coverage: dict[str, Coverage], uses: np.ndarray
) -> list[PooledPlan]:
    """Add the pooled plans' main trials to ``coverage`` and block orders to ``uses``; call
    under the planning lock after dropping stale plans. Returns the pooled plans."""
    pooled = list(PooledPlan.objects.filter(study=study))
    main: dict[tuple[str, int], list[list[int]]] = {}
    for plan in pooled:
        uses[plan.block_order] += 1
        for row in plan.trials:
            if row["role"] == "main" and row["items"]:
                main.setdefault((row["trial_type"], len(row["items"])), []).append(row["items"])
    for (trial_type, _), rows in main.items():
        coverage_add(coverage, trial_type, np.array(rows, dtype=np.int64), n_items=n_items)
    return pooled


def plan_pool_fill(*, study_id: int) -> int:
    """Top the study's pool up to ``FACESIM_PLAN_POOL_SIZE`` plans (fewer when its open places
    are fewer), a chunk at a time; returns how many were added."""
    added = 0
    while True:
        with connection.cursor() as cursor:  # per chunk: a start waiting to plan gets its turn
            cursor.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", _fill_lock(study_id))
        try:
            chunk = _fill_chunk(study_id)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s::int4, %s::int4)", _fill_lock(study_id)
                )
        if not chunk:
            return added
        added += chunk


def fill_lock_take(study: Study) -> None:
    """Take the study's fill lock until the transaction ends (a start about to plan itself)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s::int4, %s::int4)", _fill_lock(study.pk))


def _fill_lock(study_id: int) -> list[int]:
    return [FILL_LOCK, study_id % 2**31]


def _fill_chunk(study_id: int) -> int:
    """Under the fill lock: read the counts under the planning lock, then plan and store up to
    ``FILL_CHUNK`` plans (the fill lock keeps other planners out meanwhile; starts only move
    plans from the pool to sessions, which changes no count)."""
    study = Study.objects.select_related("stimulus_set").filter(pk=study_id).first()
    if study is None:  # deleted since the fill was asked for
        return 0
    stimulus_ids = tuple(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    coverage_prepare(study=study, stimulus_ids=stimulus_ids)
    with transaction.atomic():
        study = study_locked_for_planning(study)
        pool = PooledPlan.objects.filter(study=study)
        if not pools_plans(study):
            pool.delete()
            return 0
        stimulus_ids = tuple(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
        settings = plan_settings(study=study)
        key = design_key(settings, stimulus_ids)
        pool.exclude(design_key=key).delete()
        coverage = coverage_current(study=study, stimulus_ids=stimulus_ids)
        uses = block_order_counts(study=study, settings=settings)
        pooled = pooled_counts(study, len(stimulus_ids), coverage, uses)
        size = min(django_settings.FACESIM_PLAN_POOL_SIZE, _open_places(study))
        wanted = min(size - len(pooled), FILL_CHUNK)
    if wanted <= 0:
        return 0
    plans = []
    for _ in range(wanted):
        seed = secrets.randbits(63)
        order_row, plan = plan_compute(
            settings=settings, n_items=len(stimulus_ids), coverage=coverage, uses=uses, seed=seed
        )
        plans.append(
            PooledPlan(
                study=study,
                design_key=key,
                plan_seed=seed,
                block_order=order_row,
                trials=[asdict(trial) for trial in plan],
            )
        )
    PooledPlan.objects.bulk_create(plans)
    return wanted


def plan_pool_request(*, study: Study) -> None:
    """Ask a worker to fill the study's pool; a broker that cannot be reached is logged (the
    worker's periodic top-up and the starts' own planning cover for it)."""
    if not pools_plans(study):
        return
    try:
        current_app.send_task(
            FILL_TASK,
            args=[study.pk],
            queue="cpu",
            retry_policy=django_settings.FACESIM_BROKER_SEND_RETRY,
        )
    except (KombuError, OSError) as error:
        logger.warning("Could not ask for a plan-pool fill of study %s (%s).", study.pk, error)


def plan_pools_top_up() -> list[int]:
    """Ask for a fill of every live study whose pool is below half its size (the workers'
    periodic sweep); returns those studies' keys."""
    low = django_settings.FACESIM_PLAN_POOL_SIZE // 2
    asked = []
    for study in Study.objects.filter(status=Study.Status.LIVE):
        pooled = study.pooled_plans.count()
        if pools_plans(study) and pooled <= low and pooled < _open_places(study):
            plan_pool_request(study=study)
            asked.append(study.pk)
    return asked


def _open_places(study: Study) -> int:
    """Places not taken by kept sessions (pooled plans not yet handed out included)."""
    return study.target_participants - kept_sessions(study=study).count()
