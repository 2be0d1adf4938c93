"""Stimulus groups: within- vs between-group agreement against a hand computation, a planted
bias found, stratified draws, accuracy per group and the worst group by hand."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from analysis.matrices import upper_indices
from analysis.stimulus_groups import (
    group_accuracy,
    pair_sets,
    stratified_draws,
    within_between_agreement,
)
from tests.unit.analysis.helpers import dense_data, human_from, models_from

GENDER = ["f", "m", "f", "m", "f", "m", "f", ""]  # the last stimulus has no label


def labels_for(stimuli, values=GENDER):
    return pd.DataFrame({"stimulus": list(stimuli), "gender": values})


def test_within_and_between_agreement_match_a_hand_computation():
    data, models = dense_data(2, n=8, n_participants=5, n_models=2)
    human = human_from(data)
    agreement, contrast = within_between_agreement(
        models_from(models), human, labels_for(human.stimuli), "gender", n_boot=30, random_state=0
    )
    rows, cols = upper_indices(8)
    g = np.array(GENDER)
    labelled = (g[rows] != "") & (g[cols] != "")
    same = labelled & (g[rows] == g[cols])
    sets = {
        "within": same,
        "between": labelled & ~same,
        "within f": same & (g[rows] == "f"),
        "within m": same & (g[rows] == "m"),
    }
    for name, mask in sets.items():
        for k in range(2):
            hand = np.mean([scipy.stats.spearmanr(models[k][mask], d[mask])[0] for d in data])
            row = agreement[(agreement["pairs"] == name) & (agreement["model"] == f"net{k}")]
            assert row["n_pairs"].item() == mask.sum()
            assert row["evaluation"].item() == pytest.approx(hand)
            assert row["ci_low"].item() <= row["ci_high"].item()
    within = agreement[agreement["pairs"] == "within"]["evaluation"].to_numpy()
    between = agreement[agreement["pairs"] == "between"]["evaluation"].to_numpy()
    np.testing.assert_allclose(contrast["difference"], within - between)
    assert contrast["p_bootstrap"].between(0, 1).all()


def test_a_model_that_only_knows_within_group_pairs_shows_the_bias():
    rng = np.random.default_rng(0)
    n = 16
    base = rng.random(n * (n - 1) // 2)
    data = base + rng.normal(0, 0.3, (8, base.size))
    human = human_from(data)
    gender = ["f", "m"] * (n // 2)
    within = pair_sets(pd.Series(gender, index=human.stimuli))["within"].astype(bool)
    biased = np.where(within, base, rng.permutation(base))
    _agreement, contrast = within_between_agreement(
        models_from(biased[None]),
        human,
        labels_for(human.stimuli, gender),
        "gender",
        n_boot=200,
        random_state=1,
    )
    row = contrast.iloc[0]
    assert row["within"] > 0.6
    assert abs(row["between"]) < 0.3
    assert row["ci_low"] > 0
    assert row["p_fdr"] < 0.05


def test_stratified_draws_resample_within_each_group():
    groups = pd.Series(["f", "m", "f", "m", "f", None])
    draws = stratified_draws(groups, 50, np.random.default_rng(0))
    codes = groups.fillna("none").to_numpy()
    assert (codes[draws] == codes[None, :]).all()  # every position keeps its group
    assert len(np.unique(draws[:, 0])) > 1  # and is drawn, not fixed


def test_accuracy_per_group_and_worst_group_by_hand():
    stimuli = [f"s{k}" for k in range(8)]
    truth = ["x", "y"] * 4
    predictions = pd.concat(
        [
            # model a: right on every f face, on one of three m faces (s7 has no label)
            pd.DataFrame(
                {"model": "a", "stimulus": stimuli, "true": truth, "predicted": list("xyxxxxxy")}
            ),
            # model b: wrong on two f faces, right on every m face
            pd.DataFrame(
                {"model": "b", "stimulus": stimuli, "true": truth, "predicted": list("yyyyxyxy")}
            ),
        ]
    )
    per, worst = group_accuracy(predictions, labels_for(stimuli), "gender")
    acc = per.set_index(["model", "group"])
    assert acc.loc[("a", "f"), "accuracy"] == 1.0
    assert acc.loc[("a", "m"), "n"] == 3
    assert acc.loc[("a", "m"), "accuracy"] == pytest.approx(1 / 3)
    assert acc.loc[("b", "f"), "accuracy"] == pytest.approx(2 / 4)
    # Wilson score interval of 1 hit in 3 by its formula
    z, n, hit = scipy.stats.norm.ppf(0.975), 3, 1 / 3
    centre = (hit + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(hit * (1 - hit) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert acc.loc[("a", "m"), "ci_low"] == pytest.approx(centre - half)
    assert acc.loc[("a", "m"), "ci_high"] == pytest.approx(centre + half)
    assert acc.loc[("a", "f"), "ci_high"] == 1.0
    w = worst.set_index("model")
    assert w.loc["a", "worst_group"] == "m"
    assert w.loc["a", "worst_accuracy"] == pytest.approx(1 / 3)
    assert w.loc["a", "gap"] == pytest.approx(2 / 3)
    assert w.loc["a", "accuracy"] == pytest.approx(5 / 7)  # the unlabelled s7 is left out
    assert w.loc["b", "worst_group"] == "f"
    assert w.loc["b", "gap"] == pytest.approx(1 / 2)


def test_accuracy_per_task_and_bad_input():
    stimuli = ["s0", "s1", "s2", "s3"]
    predictions = pd.DataFrame(
        {
            "model": "a",
            "task": ["id"] * 4 + ["gender"] * 4,
            "stimulus": stimuli * 2,
            "true": list("pqrs") + list("fmfm"),
            "predicted": list("pqrr") + list("ffff"),
        }
    )
    labels = pd.DataFrame({"stimulus": stimuli, "gender": list("fmfm")})
    _, worst = group_accuracy(predictions, labels, "gender")
    w = worst.set_index("task")
    assert w.loc["id", "worst_accuracy"] == 0.5
    assert w.loc["gender", "worst_accuracy"] == 0.0
    assert w.loc["gender", "worst_ci_low"] == 0.0
    with pytest.raises(ValueError, match="one row per model, task and stimulus"):
        group_accuracy(pd.concat([predictions, predictions.head(1)]), labels, "gender")
    with pytest.raises(ValueError, match="'predictions' parameter"):
        group_accuracy(predictions.drop(columns="true"), labels, "gender")
    data, models = dense_data(0, n=4, n_participants=3, n_models=1)
    human = human_from(data)
    with pytest.raises(ValueError, match="at least two groups"):
        within_between_agreement(
            models_from(models), human, labels_for(human.stimuli, ["f"] * 4), "gender"
        )


def test_a_group_of_one_stimulus_has_an_empty_within_row():
    data, models = dense_data(0, n=6, n_participants=4, n_models=1)
    human = human_from(data)
    labels = labels_for(human.stimuli, list("aaaaab"))
    agreement, contrast = within_between_agreement(
        models_from(models), human, labels, "gender", n_boot=20, random_state=0
    )
    rows = agreement.set_index("pairs")
    assert rows.loc["within b", "n_pairs"] == 0
    assert np.isnan(rows.loc["within b", ["evaluation", "ci_low", "ci_high"]].astype(float)).all()
    assert rows.loc["within a", "evaluation"] == rows.loc["within", "evaluation"]
    assert np.isfinite(contrast["p_bootstrap"]).all()
