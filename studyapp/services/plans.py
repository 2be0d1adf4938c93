"""Store a participant's trial plan (the algorithm itself is in ``studyapp.planning``)."""

from collections.abc import Sequence

import numpy as np
from django.db import connection

from studyapp.arrangement import arrangement_settings
from studyapp.bubbles import match_identities
from studyapp.models import Participant, Study, Trial
from studyapp.planning import (
    Coverage,
    PlannedTrial,
    PlanSettings,
    block_order_choose,
    block_orders,
    build_plan,
)
from studyapp.selectors.coverage import block_order_uses

PLANNING_LOCK = 0x57A7  # first key of the per-study advisory lock (second: the study's key)


def study_locked_for_planning(study: Study) -> Study:
    """The study as stored now, with its row key-share locked and its planning lock taken
    (both until the transaction ends)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Study._meta.db_table} WHERE id = %s FOR KEY SHARE", [study.pk]
        )
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s::int4, %s::int4)",
            [PLANNING_LOCK, study.pk % 2**31],  # int4 keys; two studies 2**31 apart share one
        )
    return Study.objects.select_related("stimulus_set").get(pk=study.pk)


def plan_settings(*, study: Study) -> PlanSettings:
    """What each participant's plan in ``study`` must contain."""
    return PlanSettings(
        trial_types=study.trial_types,
        main_trials=study.trials_per_participant,
        practice_trials=study.practice_trials,
        repeat_rate=study.repeat_rate,
        catch_rate=study.catch_rate,
        arrangement_first_size=arrangement_settings(study).first_size,
        match_identities=match_identities(study=study),
    )


def block_order_counts(*, study: Study, settings: PlanSettings) -> np.ndarray:
    """Kept sessions per row of the study's block-order Latin square."""
    return block_order_uses(study=study, n_rows=len(block_orders(len(settings.trial_types))))


def plan_compute(
    *,
    settings: PlanSettings,
    n_items: int,
    coverage: dict[str, Coverage],
    uses: np.ndarray,
    seed: int,
) -> tuple[int, list[PlannedTrial]]:
    """A new participant's block-order row and plan from ``coverage`` and ``uses`` (block-order
    rows), the exact counts of every plan before it; both get this plan added. Items are
    positions in the study's stimuli in key order."""
    order_row = block_order_choose(uses, seed)
    uses[order_row] += 1
    return order_row, build_plan(n_items, settings, coverage, seed=seed, order_row=order_row)


def trial_plan_store(
    *, participant: Participant, plan: Sequence[PlannedTrial], stimulus_ids: Sequence[int]
) -> list[Trial]:
    """Save a computed plan as the participant's trials (items: positions in ``stimulus_ids``)."""

    def to_row(index: int, planned) -> Trial:
        return Trial(
            participant=participant,
            index=index,
            block=planned.block,
            trial_type=planned.trial_type,
            role=planned.role,
            items=[stimulus_ids[i] for i in planned.items],
            correct_item=None
            if planned.correct_item is None
            else stimulus_ids[planned.correct_item],
            bubbles_seed=planned.bubbles_seed,
        )

    # Originals first (bulk_create returns their keys), then the repeats that point at them.
    originals = Trial.objects.bulk_create(
        [to_row(i, p) for i, p in enumerate(plan) if p.repeat_of is None]
    )
    by_index = {t.index: t for t in originals}
    repeats = []
    for index, planned in enumerate(plan):
        if planned.repeat_of is not None:
            row = to_row(index, planned)
            row.repeat_of = by_index[planned.repeat_of]
            repeats.append(row)
    return originals + Trial.objects.bulk_create(repeats)
