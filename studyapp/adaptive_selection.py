"""Hand a participant's plan the triplets an adaptive model state chose (pure, no Django).

The plan is built by ``studyapp.planning.build_plan`` as usual (block order, practice,
repeats, catch trials); only its main triplet trials take the state's triplets, in order,
each shown in a random display order, and a repeat of one of them shows the new items in
another order.  The rules of the plan therefore hold unchanged: the pool never holds a set
twice, repeats and catches stay where the planner put them.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from studyapp.planning import PlannedTrial


def main_triplet_count(plan: Sequence[PlannedTrial]) -> int:
    return sum(t.trial_type == "triplet" and t.role == "main" for t in plan)


def substitute_main_triplets(
    plan: Sequence[PlannedTrial], triplets: Sequence[Sequence[int]], *, seed: int
) -> list[PlannedTrial]:
    """``plan`` with its main triplet trials showing ``triplets`` (stimulus positions)."""
    needed = main_triplet_count(plan)
    if len(triplets) < needed:
        raise ValueError(
            f"The 'triplets' parameter of substitute_main_triplets must hold at least {needed} "
            f"triplets (the plan's main triplet trials); got {len(triplets)}."
        )
    rng = np.random.default_rng([seed, 2])
    given = iter(triplets)
    trials = list(plan)
    for k, trial in enumerate(trials):
        if trial.trial_type == "triplet" and trial.role == "main":
            shown = tuple(int(i) for i in rng.permutation(next(given)))
            trials[k] = replace(trial, items=shown)
    for k, trial in enumerate(trials):
        if trial.trial_type == "triplet" and trial.repeat_of is not None:
            items = trials[trial.repeat_of].items
            shift = int(rng.integers(1, 3))  # a rotation: another order of distinct items
            trials[k] = replace(trial, items=items[shift:] + items[:shift])
    return trials
