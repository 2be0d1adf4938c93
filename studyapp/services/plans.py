"""Store a participant's trial plan (the algorithm itself is in ``studyapp.planning``)."""

from collections.abc import Sequence

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


def plan_compute(
    *, study: Study, n_items: int, coverage: dict[str, Coverage], seed: int
) -> tuple[int, list[PlannedTrial]]:
    """A new participant's block-order row and plan from ``coverage``, the exact counts of
    every plan before it (it gets this plan's main trials added); call under the planning
    lock. Items are positions in the study's stimuli in key order."""
    settings = plan_settings(study=study)
    uses = block_order_uses(study=study, n_rows=len(block_orders(len(settings.trial_types))))
    order_row = block_order_choose(uses, seed)
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
