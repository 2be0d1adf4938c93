"""Decision weighting, generalisation summaries and relevance mass per part."""

import numpy as np
import pandas as pd
import pytest

import analysis.relevance as relevance_module
from analysis.compare import evaluate
from analysis.inference import bootstrap_evaluations, bootstrap_indices
from analysis.matrices import SimilarityMatrix, vector_to_square
from analysis.relevance import (
    decision_weighting_curves,
    generalisation_asymmetry,
    generalisation_auc,
    generalisation_groups,
    generalisation_matrix,
    generalisation_table,
    relevance_mass_per_part,
)
from tests.unit.analysis.helpers import dense_data, human_from, stimuli


def masked_models(seed=0):
    data, models = dense_data(seed, n=9, n_participants=6, n_models=2)
    rng = np.random.default_rng(seed)
    masked = {}
    for k in (1, 5, 20):
        masked[("net", "relevance", k)] = vector_to_square(models[0] + rng.normal(0, k / 20, 36))
        masked[("net", "random", k)] = vector_to_square(models[0] + rng.normal(0, 1.0, 36))
    return data, models, masked


def test_decision_weighting_equals_evaluate_per_entry():
    data, models, masked = masked_models()
    human = human_from(data)
    unmasked = {"net": vector_to_square(models[0])}
    table = decision_weighting_curves(masked, human, "spearman", unmasked=unmasked)
    for row in table.itertuples():
        single = {"x": SimilarityMatrix(masked[(row.model, row.condition, row.k)], stimuli(9))}
        assert row.evaluation == pytest.approx(evaluate(single, human)["evaluation"][0], abs=1e-12)
    base = evaluate({"x": SimilarityMatrix(unmasked["net"], stimuli(9))}, human)["evaluation"][0]
    rel = table[table["condition"] == "relevance"].set_index("k")
    rand = table[table["condition"] == "random"].set_index("k")
    np.testing.assert_allclose(rel["unmasked"], base)
    np.testing.assert_allclose(rel["minus_random"], rel["evaluation"] - rand["evaluation"])
    assert "minus_random" not in rand or rand["minus_random"].isna().all()


def test_decision_weighting_intervals_use_one_set_of_draws():
    data, _, masked = masked_models(1)
    human = human_from(data)
    table = decision_weighting_curves(masked, human, "pearson", n_boot=40, random_state=3)
    draws = bootstrap_indices(9, 40, 3)
    key = ("net", "relevance", 5)
    boot = bootstrap_evaluations(
        {"x": SimilarityMatrix(masked[key], stimuli(9))},
        human,
        "pearson",
        n_boot=40,
        stimulus_indices=draws,
    )
    row = table[(table["condition"] == "relevance") & (table["k"] == 5)].iloc[0]
    low, high = np.nanpercentile(boot.evaluations[:, 0], [2.5, 97.5])
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    assert row["minus_random_ci_low"] <= row["minus_random"] <= row["minus_random_ci_high"]


def test_decision_weighting_rejects_bad_keys():
    data, _, masked = masked_models()
    with pytest.raises(ValueError, match="keys \\(model, condition, k\\)"):
        decision_weighting_curves({("net", 5): next(iter(masked.values()))}, human_from(data))


def generalisation_arrays():
    """modelsvc layout: sources = models A, B, C then the baselines; fractions 1, 10, 50."""
    sources, models, fractions = ["A", "B", "C", "random", "center"], ["A", "B", "C"], [1, 10, 50]
    base = np.array([0.9, 0.7, 0.4])
    acc = np.zeros((5, 3, 3))
    for s, a in enumerate(sources):
        for m, b in enumerate(models):
            bonus = 0.2 if a == b else (0.1 if {a, b} == {"A", "B"} else 0.0)
            skew = 0.05 if (a, b) == ("A", "C") else 0.0
            acc[s, m] = base - 0.1 if a in ("random", "center") else base + bonus + skew
    return acc, sources, models, fractions


def test_generalisation_table_from_modelsvc_arrays():
    acc, sources, models, fractions = generalisation_arrays()
    table = generalisation_table(acc, sources, models, fractions)
    assert len(table) == 5 * 3 * 3
    row = table[(table.model_a == "A") & (table.model_b == "C") & (table.k == 10)].iloc[0]
    assert row["accuracy"] == pytest.approx(acc[0, 2, 1])
    with pytest.raises(ValueError, match="an array of shape"):
        generalisation_table(acc[:, :2], sources, models, fractions)


def test_generalisation_auc_matrix_and_asymmetry():
    table = generalisation_table(*generalisation_arrays())
    auc = generalisation_auc(table)
    row = auc[(auc.model_a == "A") & (auc.model_b == "C")].iloc[0]
    expected = np.trapezoid([0.95, 0.75, 0.45], [1, 10, 50]) / 49
    assert row["auc"] == pytest.approx(expected)
    g = generalisation_matrix(table)
    assert list(g.index) == ["A", "B", "C", "random", "center"]  # baselines last
    assert g.loc["A", "C"] == pytest.approx(expected)
    assert generalisation_matrix(table, k=10).loc["A", "A"] == pytest.approx(0.9)
    asym = generalisation_asymmetry(g).set_index(["model_a", "model_b"])
    assert asym.loc[("A", "C"), "asymmetry"] == pytest.approx(0.05)
    assert asym.loc[("A", "B"), "asymmetry"] == pytest.approx(0.0)
    assert "random" not in set(asym.reset_index()["model_a"])
    with pytest.raises(ValueError, match="a k present"):
        generalisation_matrix(table, k=3)


def test_generalisation_groups_same_vs_different():
    table = generalisation_table(*generalisation_arrays())
    info = pd.DataFrame({"model": list("ABC"), "pretraining": ["imagenet", "imagenet", "faces"]})
    groups = generalisation_groups(table, info, by=("pretraining",))
    g = groups.set_index("relation")
    assert g.loc["self", "n_pairs"] == 3
    assert g.loc["same", "n_pairs"] == 2
    assert g.loc["different", "n_pairs"] == 4
    assert g.loc["same", "mean_auc"] > g.loc["different", "mean_auc"]
    # the random baseline is 0.1 below the plain curve everywhere: self gains 0.3
    assert g.loc["self", "mean_gain_over_random"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="a row for every model"):
        generalisation_groups(table, info.iloc[:2], by=("pretraining",))


def test_relevance_mass_per_part_by_hand():
    rel = np.zeros((2, 4, 4))
    rel[0, 0, :2] = [3.0, 1.0]  # eyes
    rel[0, 3, 3] = -5.0  # negative: ignored with positive_only
    rel[0, 2, 2] = 4.0  # "other"
    rel[1] = 1.0
    masks = np.zeros((4, 4), int)
    masks[0, :2] = 1
    masks[3, :] = 2
    out = relevance_mass_per_part(rel, masks, {1: "eyes", 2: "mouth"}, image_ids=["x", "y"])
    t = out.set_index(["image", "part"])
    assert t.loc[("x", "eyes"), "relevance_share"] == pytest.approx(0.5)
    assert t.loc[("x", "mouth"), "relevance_share"] == pytest.approx(0.0)
    assert t.loc[("x", "eyes"), "area_share"] == pytest.approx(2 / 16)
    assert t.loc[("y", "mouth"), "enrichment"] == pytest.approx(1.0)
    absolute = relevance_mass_per_part(rel, masks, {1: "eyes", 2: "mouth"}, positive_only=False)
    assert absolute.set_index(["image", "part"]).loc[("0", "mouth"), "relevance_share"] == (
        pytest.approx(5 / 13)
    )
    with pytest.raises(ValueError, match="integer label maps"):
        relevance_mass_per_part(rel, masks.astype(float), {1: "eyes"})


def test_relevance_mass_per_part_in_chunks_of_images_equals_all_at_once(monkeypatch):
    """Large sets are summed a few images at a time (bounded memory), same table."""
    rng = np.random.default_rng(0)
    rel = rng.normal(size=(7, 6, 5)).astype(np.float32)
    masks = rng.integers(0, 4, size=(7, 6, 5))
    labels = {1: "eyes", 2: "nose", 3: "eyes"}  # two labels may name one part
    whole = relevance_mass_per_part(rel, masks, labels)
    monkeypatch.setattr(relevance_module, "_MASS_CHUNK_PIXELS", 2 * 6 * 5)  # 2 images a chunk
    chunked = relevance_mass_per_part(rel, masks, labels)
    pd.testing.assert_frame_equal(chunked, whole)
    expected = np.maximum(rel[3], 0)[(masks[3] == 1) | (masks[3] == 3)].sum()
    share = whole.set_index(["image", "part"]).loc[("3", "eyes"), "relevance_share"]
    assert share == pytest.approx(expected / np.maximum(rel[3], 0).sum())
