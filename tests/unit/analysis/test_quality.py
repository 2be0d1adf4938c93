"""Participant quality measures and explicit, reported exclusions."""

import numpy as np
import pandas as pd
import pytest

from analysis.io import read_responses
from analysis.quality import ExclusionRules, apply_exclusions, participant_quality
from tests.unit.analysis.test_io import frame


def two_participants():
    good = [
        {},
        {"trial_index": "1", "choice": "a", "rt_ms": "100"},  # dropped by the RT bounds
        {"role": "catch", "item_2": "a", "choice": "c", "correct": "true"},
        {"role": "repeat", "repeat_of": "0", "choice": "c"},  # same answer as trial 0
    ]
    bad = [
        {"choice": "b", "rt_ms": "200"},
        {"choice": "a", "rt_ms": "250"},
        {"role": "catch", "item_2": "a", "choice": "a", "correct": "false", "rt_ms": "220"},
        {"role": "repeat", "repeat_of": "0", "choice": "a", "rt_ms": "210"},
    ]
    rows = pd.concat([frame(*good), frame(*bad).assign(participant="P2")], ignore_index=True)
    return read_responses(rows)


def test_quality_measures_by_hand():
    q = participant_quality(two_participants()).set_index("participant")
    assert q.loc["P1", "catch_accuracy"] == 1.0
    assert q.loc["P2", "catch_accuracy"] == 0.0
    assert q.loc["P1", "repeat_consistency"] == 1.0
    assert q.loc["P2", "repeat_consistency"] == 0.0
    assert q.loc["P1", "fast_fraction"] == 0.5  # 100 ms of (900, 100)
    assert q.loc["P2", "fast_fraction"] == 1.0
    assert q.loc["P1", "n_main"] == 2
    assert q.loc["P1", "n_repeats"] == 1


def test_exclusions_are_applied_and_reported():
    result = apply_exclusions(two_participants(), ExclusionRules(min_repeat_consistency=0.5))
    ex = result.exclusions
    assert set(ex["participant"]) == {"P2"}
    assert set(ex["rule"]) == {"catch_accuracy", "fast_responses", "repeat_consistency"}
    row = ex[ex["rule"] == "catch_accuracy"].iloc[0]
    assert (row["value"], row["threshold"]) == (0.0, 0.8)
    assert result.responses["participant"].unique().tolist() == ["P1"]
    assert result.dropped_trials["rt_ms"].tolist() == [100.0]
    q = result.quality.set_index("participant")
    assert q.loc["P2", "excluded"]
    assert not q.loc["P1", "excluded"]
    assert q.loc["P2", "exclusion_reasons"] == "catch_accuracy; fast_responses; repeat_consistency"
    assert q.loc["P1", "n_trials_dropped_rt"] == 1
    assert result.summary()["by_rule"] == {
        "catch_accuracy": 1,
        "fast_responses": 1,
        "repeat_consistency": 1,
    }


def test_rules_can_be_switched_off():
    rules = ExclusionRules(min_catch_accuracy=None, max_fast_fraction=None, trial_rt_bounds_ms=None)
    result = apply_exclusions(two_participants(), rules)
    assert result.exclusions.empty
    assert len(result.responses) == 8


def test_status_rules_and_rating_consistency():
    rows = frame(
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "2",
            "rating_min": "1",
            "rating_max": "7",
        },
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "5",
            "rating_min": "1",
            "rating_max": "7",
            "item_2": "c",
        },
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "5",
            "rating_min": "1",
            "rating_max": "7",
            "role": "repeat",
            "repeat_of": "0",
        },
    )
    started = frame({}).assign(participant="P9", participant_status="started")
    out = read_responses(pd.concat([rows, started], ignore_index=True))
    q = participant_quality(out).set_index("participant")
    assert q.loc["P1", "repeat_consistency"] == pytest.approx(1 - 3 / 6)
    assert q.loc["P1", "rating_sd"] == pytest.approx(1.5)
    result = apply_exclusions(out)
    assert result.exclusions.set_index("participant").loc["P9", "rule"] == "not_completed"


def test_constant_ratings_rule():
    rows = frame(
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "4",
            "rating_min": "1",
            "rating_max": "7",
        },
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "4",
            "rating_min": "1",
            "rating_max": "7",
            "item_2": "c",
        },
    )
    result = apply_exclusions(read_responses(rows))
    assert result.exclusions["rule"].tolist() == ["constant_ratings"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_catch_accuracy": 1.5}, "min_catch_accuracy"),
        ({"trial_rt_bounds_ms": (500, 100)}, "trial_rt_bounds_ms"),
        ({"fast_rt_ms": -1}, "fast_rt_ms"),
    ],
)
def test_rules_validate(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExclusionRules(**kwargs)


def test_simulated_random_responders_are_excluded(study_responses):
    for rows in study_responses.values():
        result = apply_exclusions(rows)
        assert "P009" in set(result.exclusions["participant"])
        kept = set(result.quality.loc[~result.quality["excluded"], "participant"])
        assert len(kept) >= 8
        assert np.isfinite(result.quality["repeat_consistency"]).all()
