"""Split-half reliability, the majority ceiling and model choice predictions."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from analysis.human.choices import choice_matrices, choice_table
from analysis.kernels import correlate
from analysis.predictions import model_choice_accuracy, predicted_correct
from analysis.reliability import (
    majority_ceiling,
    repeated_triplets,
    spearman_brown,
    split_half,
)
from tests.unit.analysis.helpers import dense_data, human_from


def test_spearman_brown_formula():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    np.testing.assert_allclose(spearman_brown(np.array([0.0, 1.0])), [0.0, 1.0])
    assert spearman_brown(0.5, factor=3) == pytest.approx(0.75)
    # the pole: a split-half correlation of exactly -1 has no corrected value (not -inf)
    assert np.isnan(spearman_brown(-1.0))
    np.testing.assert_allclose(spearman_brown(np.array([-1.0, -0.5])), [np.nan, -2.0])


def test_split_half_equals_naive_pooling_with_scipy():
    data, _ = dense_data(2, n=8, n_participants=6)
    human = human_from(data)
    rng = np.random.default_rng(0)
    splits = np.zeros((5, 6), bool)
    for s in range(5):
        splits[s, rng.permutation(6)[:3]] = True
    result = split_half(human, "spearman", splits=splits)
    for s in range(5):
        a = data[splits[s]].mean(0)
        b = data[~splits[s]].mean(0)
        r = scipy.stats.spearmanr(a, b).statistic
        assert result.correlations[s] == pytest.approx(r, abs=1e-12)
        assert result.reliabilities[s] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    summary = result.summary()
    assert summary["n_splits"] == 5
    assert summary["reliability_mean"] == pytest.approx(result.reliabilities.mean())


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_split_half_of_a_sparse_design_equals_pooling_every_pair(method):
    """Pairs judged by one participant are left out of the halves' vectors: the same
    correlations (to rounding) as pooling all pairs and weighting those missing from a half
    by 0."""
    rng = np.random.default_rng(4)
    data = rng.normal(size=(30, 120))
    data[rng.random(data.shape) < 0.95] = np.nan  # about 6 of 120 pairs per participant
    human = human_from(data)
    assert (np.bincount(human.pair_index, minlength=120) == 1).sum() > 20
    splits = np.zeros((20, 30), bool)
    for s in range(20):
        splits[s, rng.permutation(30)[:15]] = True
    result = split_half(human, method, splits=splits)
    pooled, _ = human.dissimilarity().group_vectors(np.concatenate([splits, ~splits]))
    a, b = pooled[:20], pooled[20:]
    both = (~np.isnan(a) & ~np.isnan(b)).astype(float)
    expected = correlate(method, np.nan_to_num(a), np.nan_to_num(b), both)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(result.correlations, expected, rtol=1e-12, atol=1e-14)


def test_split_half_without_a_pair_judged_twice_is_nan():
    data = np.full((4, 6), np.nan)
    for k in range(4):
        data[k, k] = 1.0 + k
    result = split_half(human_from(data), "spearman", n_splits=3, random_state=0)
    assert np.isnan(result.correlations).all()
    assert len(result.correlations) == 3
    assert np.isnan(result.reliabilities).all()


def test_split_half_is_seeded_and_validates():
    data, _ = dense_data(2, n=8, n_participants=6)
    human = human_from(data)
    a = split_half(human, n_splits=20, random_state=1)
    b = split_half(human, n_splits=20, random_state=1)
    np.testing.assert_array_equal(a.reliabilities, b.reliabilities)
    with pytest.raises(ValueError, match="'splits' parameter"):
        split_half(human, splits=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="at least 2 participants"):
        split_half(human_from(data[:1]))


def test_split_half_rises_with_more_participants(study_responses):
    table, ids = choice_table(study_responses["triplet"])
    human = choice_matrices(table, ids).subset([f"P{k:03d}" for k in range(9)])
    few = split_half(human.subset(["P000", "P001", "P002", "P003"]), n_splits=30, random_state=0)
    many = split_half(human, n_splits=30, random_state=0)
    assert many.summary()["reliability_mean"] > few.summary()["reliability_mean"]


def triplets(rows):
    return pd.DataFrame(rows, columns=["participant", "trial_type", "i", "j", "odd"])


def test_majority_ceiling_by_hand():
    table = triplets(
        [
            ("p1", "triplet", 0, 1, 2),
            ("p2", "triplet", 1, 0, 2),
            ("p3", "triplet", 0, 2, 1),
            ("p1", "triplet", 3, 4, 5),  # answered once: not used
            ("p1", "afc", 0, 3, 4),
            ("p2", "afc", 0, 4, 3),  # same 2AFC trial, split 1:1
        ]
    )
    ceiling = majority_ceiling(table, n_boot=50, random_state=0)
    assert ceiling.n_triplets == 2
    assert ceiling.n_responses == 5
    assert ceiling.accuracy == pytest.approx((2 + 1) / 5)
    assert ceiling.ci_low <= ceiling.accuracy <= ceiling.ci_high
    # leave one response out: the two "odd = 2" answers are each predicted by a 1:1 tie
    # (credit 1/2 each), the "odd = 1" answer by the other two (wrong); the split 2AFC trial
    # predicts each answer with the other one (wrong)
    assert ceiling.lower == pytest.approx((0.5 + 0.5 + 0) / 5)
    assert ceiling.lower_ci_low <= ceiling.lower <= ceiling.lower_ci_high
    assert ceiling.triplets["n_loo_correct"].tolist() == [1.0, 0.0]  # triplet, 2AFC
    assert repeated_triplets(table) == 2
    with pytest.raises(ValueError, match="answered at least 2 times"):
        majority_ceiling(table.iloc[[3]])


def test_majority_ceiling_band_is_tight_for_unanimous_and_wide_for_split_answers():
    unanimous = triplets([("p", "triplet", 0, 1, 2)] * 4)
    ceiling = majority_ceiling(unanimous, n_boot=10, random_state=0)
    assert ceiling.lower == ceiling.accuracy == 1.0
    split = triplets([("p", "triplet", 0, 1, 2), ("q", "triplet", 0, 2, 1)] * 2)
    ceiling = majority_ceiling(split, n_boot=10, random_state=0)
    assert ceiling.accuracy == 0.5  # majority fitted to the responses it scores
    assert ceiling.lower == 0.0  # each response predicted by the other three (2:1 against)


def test_predicted_correct_handles_ties_and_afc():
    d = np.array([[0, 1, 2, 5], [1, 0, 1, 5], [2, 1, 0, 5], [5, 5, 5, 0.0]])
    table = triplets(
        [
            ("p", "triplet", 0, 1, 2),  # candidates d01=1, d02=2, d12=1: tie between 2 pairs
            ("p", "triplet", 0, 2, 1),  # kept (0, 2) but d02=2 is the largest: wrong
            ("p", "afc", 3, 0, 1),  # reference 3: d30 = d31 = 5: tie
            ("p", "afc", 0, 1, 2),  # reference 0: d01=1 < d02=2: right
        ]
    )
    np.testing.assert_allclose(predicted_correct(d, table), [0.5, 0.0, 0.5, 1.0])


def test_model_choice_accuracy_orders_models_and_uses_the_ceiling(study_responses, truth):
    rows = study_responses["triplet"]
    rows = rows[rows["participant"] != "P009"]  # the random responder
    table, ids = choice_table(rows)
    with_repeats, _ = choice_table(rows, stimuli=ids, roles=("main", "repeat"))
    ceiling = majority_ceiling(with_repeats, random_state=0)
    rng = np.random.default_rng(0)
    noise = rng.random(truth.values.shape)
    out = model_choice_accuracy(
        {"truth": truth, "noise": noise + noise.T},
        table,
        ids,
        ceiling=ceiling,
        n_boot=200,
        random_state=0,
    )
    good, bad = out.iloc[0], out.iloc[1]
    assert good["accuracy"] > bad["accuracy"]
    assert good["ci_low"] <= good["accuracy"] <= good["ci_high"]
    assert good["chance"] == pytest.approx(1 / 3)
    expected = (good["accuracy"] - 1 / 3) / (ceiling.accuracy - 1 / 3)
    assert good["relative_to_ceiling"] == pytest.approx(expected)
    assert (good["ceiling_lower"], good["ceiling_upper"]) == (ceiling.lower, ceiling.accuracy)
    # on the repeated triplets the generating matrix lies in the band (the ceiling also
    # scores the repeat trials, hence the small margin at the top)
    assert ceiling.lower <= good["accuracy_on_ceiling_set"] <= ceiling.accuracy + 0.01
    assert abs(bad["accuracy"] - 1 / 3) < 0.05
