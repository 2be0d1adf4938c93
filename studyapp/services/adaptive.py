"""Adaptive triplet selection on the platform: hand out pool slots, launch fits, store states.

``adaptive_plan_apply`` is the one call from the planner (``services.plans``): with the study
row locked it launches a fit job when a batch of completed participants has come in since the
newest state, and gives the new participant the next unused slot of the newest state's pool,
or balanced selection (recorded why) when there is none.
"""

import numpy as np
from django.db import transaction

from studyapp.adaptive_selection import main_triplet_count, substitute_main_triplets
from studyapp.models import AdaptivePlanChoice, AdaptiveState, Job, Participant, Study
from studyapp.planning import PlannedTrial
from studyapp.selectors.adaptive import fit_launched, fitted_participants, newest_state
from studyapp.services.jobs import job_launch

Selection = AdaptivePlanChoice.Selection


def adaptive_plan_apply(
    *, participant: Participant, plan: list[PlannedTrial], stimulus_ids: list[int]
) -> list[PlannedTrial]:
    """The plan with adaptive triplets when the study selects adaptively (else unchanged)."""
    study = participant.study
    if not study.adaptive_batch or "triplet" not in study.trial_types:
        return plan
    state = newest_state(study=study)
    adaptive_fit_launch_when_due(study=study, state=state)
    if state is None:
        return _record(participant, plan, Selection.NO_STATE)
    if state.stimulus_ids != stimulus_ids:
        return _record(participant, plan, Selection.STALE)
    slot = state.choices.count()
    if slot >= len(state.pool) or len(state.pool[slot]) < main_triplet_count(plan):
        return _record(participant, plan, Selection.POOL_USED)
    AdaptivePlanChoice.objects.create(
        participant=participant, selection=Selection.ADAPTIVE, state=state, slot=slot
    )
    position_of = {pk: position for position, pk in enumerate(stimulus_ids)}
    triplets = [[position_of[pk] for pk in triplet] for triplet in state.pool[slot]]
    return substitute_main_triplets(plan, triplets, seed=participant.plan_seed)


def _record(participant: Participant, plan: list[PlannedTrial], selection: str):
    AdaptivePlanChoice.objects.create(participant=participant, selection=selection)
    return plan


def adaptive_fit_launch_when_due(*, study: Study, state: AdaptiveState | None) -> Job | None:
    """Launch a fit when ``study.adaptive_batch`` completed sessions came in since ``state``
    (once per number of completed sessions)."""
    completed = fitted_participants(study=study).count()
    fitted = state.participants if state else 0
    if completed - fitted < study.adaptive_batch or fit_launched(
        study=study, participants=completed
    ):
        return None
    return job_launch(
        kind=Job.Kind.ADAPTIVE,
        stimulus_set=study.stimulus_set,
        face_models=[],
        study=study,
        params={"participants": completed},
    )


def adaptive_state_save(
    *,
    study: Study,
    job: Job,
    seed: int,
    participants: int,
    answers: int,
    model: str,
    stimulus_ids: list[int],
    embedding: np.ndarray,
    pool: list[list[list[int]]],
    mean_entropy: float,
) -> AdaptiveState:
    """Store a fitted state as the study's next version (the study row is locked meanwhile,
    so planners and other fits see versions in order)."""
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        newest = newest_state(study=locked)
        return AdaptiveState.objects.create(
            study=locked,
            version=(newest.version if newest else 0) + 1,
            seed=seed,
            participants=participants,
            answers=answers,
            model=model,
            n_dims=embedding.shape[1],
            stimulus_ids=stimulus_ids,
            embedding=np.round(embedding, 6).tolist(),
            pool=pool,
            mean_entropy=mean_entropy,
            job=job,
        )
