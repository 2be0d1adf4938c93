"""Recovery: simulated participants answer from a known matrix; the analysis must find it.

For each trial type the estimated matrix matches the truth, the noise ceiling brackets the
generating model, and models ranked by how much noise was added to the truth come out in
that order -- with rsatoolbox-style evaluation and with choice predictions.
"""

import numpy as np
import pytest
import scipy.stats

from analysis.compare import compare, evaluate, noise_ceiling
from analysis.human.choices import choice_matrices, choice_table
from analysis.human.ratings import rating_matrices
from analysis.io import read_responses
from analysis.matrices import SimilarityMatrix
from analysis.predictions import model_choice_accuracy
from analysis.quality import apply_exclusions
from analysis.simulate import Design, random_dissimilarity, simulate_responses

NOISE_LEVELS = (0.0, 0.4, 0.8, 1.6)


def ranked_models(truth: SimilarityMatrix, seed: int = 0) -> dict[str, SimilarityMatrix]:
    rng = np.random.default_rng(seed)
    scale = np.std(truth.upper())
    out = {}
    for level in NOISE_LEVELS:
        noise = rng.normal(0, level * scale, truth.values.shape)
        values = np.abs(truth.values + (noise + noise.T) / 2)
        np.fill_diagonal(values, 0)
        out[f"noise{level}"] = SimilarityMatrix(values, truth.stimuli)
    return out


@pytest.fixture(scope="module")
def recovered():
    truth = random_dissimilarity(18, n_dims=3, random_state=3)
    out = {}
    for kind in ("triplet", "afc", "rating"):
        design = Design(trial_type=kind, n_participants=14, n_trials=400, noise=0.4, n_random=2)
        rows = read_responses(simulate_responses(truth, design, random_state=11))
        kept = apply_exclusions(rows).responses
        if kind == "rating":
            human, table = rating_matrices(kept), None
        else:
            table, ids = choice_table(kept)
            human = choice_matrices(table, ids)
        out[kind] = (human, table, kept)
    return truth, out


@pytest.mark.parametrize("kind", ["triplet", "afc", "rating"])
def test_estimated_matrix_matches_the_truth(recovered, kind):
    truth, out = recovered
    human, _, kept = out[kind]
    assert set(kept["participant"]).isdisjoint({"P012", "P013"})  # random responders dropped
    assert compare(human.group(), truth, "spearman") > 0.85


@pytest.mark.parametrize("kind", ["triplet", "afc", "rating"])
@pytest.mark.parametrize("method", ["spearman", "pearson", "rho-a", "tau-a"])
def test_ceiling_brackets_the_generating_model_and_models_rank_by_noise(recovered, kind, method):
    truth, out = recovered
    human = out[kind][0]
    nc = noise_ceiling(human, method)
    assert nc.lower < nc.upper
    table = evaluate(ranked_models(truth), human, method)
    best = table["evaluation"].iloc[0]
    # the generating matrix is as good as a model can be: near the ceiling, not above it
    assert nc.lower - 0.1 < best <= nc.upper + 1e-9
    rho = scipy.stats.spearmanr(NOISE_LEVELS, table["evaluation"]).statistic
    assert rho == pytest.approx(-1.0)


@pytest.mark.parametrize("kind", ["triplet", "afc"])
def test_choice_predictions_rank_models_by_noise(recovered, kind):
    truth, out = recovered
    human, table, _ = out[kind]
    acc = model_choice_accuracy(
        ranked_models(truth), table, human.stimuli, n_boot=50, random_state=0
    )
    assert acc["accuracy"].is_monotonic_decreasing
    assert acc["accuracy"].iloc[0] > acc["chance"].iloc[0] + 0.2


@pytest.fixture(scope="module")
def sparse_triplets():
    """The demo study's size: 48 stimuli, 16 participants x 40 triplets, so a participant
    judges about 120 of the 1,128 pairs and shares about 90 of them with someone else."""
    truth = random_dissimilarity(48, n_dims=4, random_state=0)
    design = Design(n_participants=16, n_trials=40, noise=0.5, catch_fraction=0.0)
    rows = simulate_responses(truth, design, random_state=10)
    table, ids = choice_table(rows[rows["role"] == "main"])
    return truth, choice_matrices(table, ids)


@pytest.mark.parametrize("method", ["spearman", "pearson", "rho-a", "tau-a"])
def test_sparse_design_ceiling_brackets_the_generating_model(sparse_triplets, method):
    truth, human = sparse_triplets
    assert np.isnan(human.vectors()).mean() > 0.85  # sparse indeed
    nc = noise_ceiling(human, method)
    assert nc.lower < nc.upper  # both finite
    assert nc.n_lower == nc.n_upper == 16
    assert nc.note == ""
    assert nc.participants["shared_pairs"].median() > 60
    models = ranked_models(truth)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3.0 * np.std(truth.upper()), truth.values.shape)
    worse = np.abs(truth.values + (noise + noise.T) / 2)
    np.fill_diagonal(worse, 0)
    models["noise3.0"] = SimilarityMatrix(worse, truth.stimuli)
    table = evaluate(models, human, method).set_index("model")["evaluation"]
    assert nc.lower <= table["noise0.0"] <= nc.upper  # the generating matrix: inside the band
    assert table["noise3.0"] < nc.lower  # a much worse model: below it
    assert table.is_monotonic_decreasing
