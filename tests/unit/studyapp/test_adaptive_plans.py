"""A plan's main triplet trials take an adaptive state's triplets; the plan's rules hold."""

import pytest

from studyapp.adaptive_selection import main_triplet_count, substitute_main_triplets
from studyapp.planning import PlanSettings, build_plan


def planned(seed: int = 3):
    settings = PlanSettings(
        ["triplet", "rating"], main_trials=20, practice_trials=1, repeat_rate=0.2, catch_rate=0.1
    )
    return build_plan(15, settings, {}, seed=seed)


def test_main_triplets_are_the_given_ones_and_the_rest_of_the_plan_is_kept():
    plan = planned()
    chosen = [(k, k + 1, k + 2) for k in range(0, 12, 1)][: main_triplet_count(plan)]
    new = substitute_main_triplets(plan, chosen, seed=9)
    assert len(new) == len(plan)
    main = [t for t in new if t.trial_type == "triplet" and t.role == "main"]
    assert [sorted(t.items) for t in main] == [list(c) for c in chosen]
    for before, after in zip(plan, new, strict=True):
        assert (before.role, before.trial_type, before.block) == (
            after.role,
            after.trial_type,
            after.block,
        )
        if not (after.trial_type == "triplet" and after.role in ("main", "repeat")):
            assert before == after  # practice, catches and the rating block are untouched
    repeats = [t for t in new if t.trial_type == "triplet" and t.role == "repeat"]
    assert repeats
    for repeat in repeats:
        original = new[repeat.repeat_of]
        assert sorted(repeat.items) == sorted(original.items)
        assert repeat.items != original.items  # shown in another order
    assert substitute_main_triplets(plan, chosen, seed=9) == new  # seeded


def test_too_few_triplets_is_a_clear_error():
    plan = planned()
    with pytest.raises(ValueError, match="'triplets' parameter of substitute_main_triplets"):
        substitute_main_triplets(plan, [(0, 1, 2)], seed=1)
