"""Store a participant's trial plan (the algorithm itself is in ``studyapp.planning``)."""

from studyapp.arrangement import arrangement_settings
from studyapp.models import Participant, Trial
from studyapp.planning import PlanSettings, block_order_choose, block_orders, build_plan
from studyapp.selectors.coverage import block_order_uses, study_coverage
from studyapp.services.adaptive import adaptive_plan_apply


def trial_plan_create(*, participant: Participant) -> list[Trial]:
    """Plan and save all trials of a new participant; call with the study row locked."""
    study = participant.study
    stimulus_ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    position_of = {pk: position for position, pk in enumerate(stimulus_ids)}
    settings = PlanSettings(
        trial_types=study.trial_types,
        main_trials=study.trials_per_participant,
        practice_trials=study.practice_trials,
        repeat_rate=study.repeat_rate,
        catch_rate=study.catch_rate,
        arrangement_first_size=arrangement_settings(study).first_size,
    )
    coverage = study_coverage(study=study, position_of=position_of)
    uses = block_order_uses(study=study, n_rows=len(block_orders(len(settings.trial_types))))
    participant.block_order = block_order_choose(uses, participant.plan_seed)
    participant.save(update_fields=["block_order"])
    plan = build_plan(
        len(stimulus_ids),
        settings,
        coverage,
        seed=participant.plan_seed,
        order_row=participant.block_order,
    )
    plan = adaptive_plan_apply(participant=participant, plan=plan, stimulus_ids=stimulus_ids)

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
