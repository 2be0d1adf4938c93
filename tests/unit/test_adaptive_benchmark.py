"""The adaptive benchmark's summary: trials to reach a value and the ratio by budget."""

import pandas as pd
import pytest

from benchmarks.adaptive import ratios_by_budget, trials_to_reach


def test_trials_to_reach_interpolates_between_batches_and_is_nan_when_never_reached():
    curve = pd.DataFrame({"trials": [100, 200, 300], "spearman": [0.5, 0.7, 0.8]})
    assert trials_to_reach(curve, 0.6) == pytest.approx(150)
    assert trials_to_reach(curve, 0.4) == 100
    assert pd.isna(trials_to_reach(curve, 0.9))


def test_ratios_by_budget_compare_adaptive_with_balanced_at_each_budget():
    trials = [100, 200, 300, 400]
    mean = pd.DataFrame(
        {"balanced": [0.2, 0.4, 0.5, 0.6], "adaptive": [0.4, 0.6, 0.7, 0.8]},
        index=pd.Index(trials, name="trials"),
    )
    table = ratios_by_budget(mean, points=2)
    assert table["budget"].tolist() == [200, 400]
    assert table["balanced"].tolist() == [0.4, 0.6]
    assert table["adaptive_needs"].tolist() == [100, 200]  # adaptive is one batch ahead
    assert table["ratio"].tolist() == [0.5, 0.5]


def test_a_budget_adaptive_never_reaches_gets_no_ratio():
    mean = pd.DataFrame(
        {"balanced": [0.5, 0.9], "adaptive": [0.6, 0.8]}, index=pd.Index([10, 20], name="trials")
    )
    table = ratios_by_budget(mean)
    assert table["adaptive_needs"].tolist()[0] == 10
    assert table["ratio"].isna().tolist() == [False, True]
