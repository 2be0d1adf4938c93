"""Triplet embeddings: gradients, recovery from simulated choices, dimensionality choice."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from analysis.compare import compare
from analysis.human.choices import choice_table
from analysis.human.embedding import (
    _objective,
    _Trials,
    fit_embedding,
    select_dimensionality,
)
from analysis.simulate import random_dissimilarity, simulate_triplet_codes


@pytest.mark.parametrize("model", ["spose", "tste"])
def test_analytic_gradient_matches_finite_differences(model):
    rng = np.random.default_rng(0)
    n, d, m = 10, 3, 150
    trip = np.array([rng.choice(n, 3, replace=False) for _ in range(m)])
    trials = _Trials(trip[:, 0], trip[:, 1], trip[:, 2], rng.random(m) < 0.3)
    x0 = rng.random(n * d) + 0.1
    value = lambda x: _objective(x, model, n, d, trials, 0.02)[0]  # noqa: E731
    numeric = approx_fprime(x0, value, 1e-7)
    analytic = _objective(x0, model, n, d, trials, 0.02)[1]
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


@pytest.fixture(scope="module")
def sparse_study():
    truth = random_dissimilarity(24, n_dims=2, random_state=1)
    rows = simulate_triplet_codes(truth, 3000, 30, noise=0.3, random_state=2)
    table, ids = choice_table(rows)
    return truth, table, ids


@pytest.mark.parametrize("model", ["spose", "tste"])
def test_embedding_recovers_the_structure_from_sparse_triplets(sparse_study, model):
    truth, table, ids = sparse_study
    # 3000 triplets over 276 pairs: about 3 offers per pair
    emb = fit_embedding(table, ids, 3, model=model, random_state=0)
    sim = emb.similarity()
    assert sim.n_missing_pairs == 0
    assert sim.kind == "similarity"
    assert compare(sim, truth, "spearman") > 0.8
    assert emb.train_accuracy > 0.5
    again = fit_embedding(table, ids, 3, model=model, random_state=0)
    np.testing.assert_array_equal(emb.embedding, again.embedding)
    if model == "spose":
        assert (emb.embedding >= 0).all()


@pytest.mark.slow
def test_dimensionality_is_chosen_by_heldout_accuracy(sparse_study):
    _, table, ids = sparse_study
    sel = select_dimensionality(table, ids, dims=(1, 2, 5), n_folds=3, random_state=0)
    summary = sel.summary()
    assert list(summary["n_dims"]) == [1, 2, 5]
    assert sel.best_dims == int(summary.loc[summary["heldout_accuracy"].idxmax(), "n_dims"])
    assert sel.best_dims >= 2  # the truth is 2-D: one dimension cannot carry it
    assert summary["heldout_accuracy"].max() > 0.45
    assert sel.embedding.n_dims == sel.best_dims
    assert len(sel.scores) == 9


def test_embedding_validates_input(sparse_study):
    _, table, ids = sparse_study
    with pytest.raises(ValueError, match="'model' parameter of fit_embedding"):
        fit_embedding(table, ids, 2, model="umap")
    with pytest.raises(ValueError, match="'n_dims' parameter"):
        fit_embedding(table, ids, 0)
    with pytest.raises(ValueError, match="'stimuli' parameter"):
        fit_embedding(table, ids[:5], 2)
