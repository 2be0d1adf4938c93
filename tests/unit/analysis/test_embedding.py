"""Triplet embeddings: gradients, recovery from simulated choices, dimensionality choice."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from analysis.compare import compare
from analysis.human import embedding
from analysis.human.choices import choice_table
from analysis.human.embedding import (
    _objective,
    _Trials,
    fit_embedding,
    select_dimensionality,
)
from analysis.io import read_responses
from analysis.simulate import (
    Design,
    random_dissimilarity,
    simulate_responses,
    simulate_triplet_codes,
)


def random_trials(seed: int, n: int, d: int, m: int, afc: float):
    """m random triplets of n stimuli (a share `afc` of them 2AFC) and a positive start."""
    rng = np.random.default_rng(seed)
    trip = np.array([rng.choice(n, 3, replace=False) for _ in range(m)])
    trials = _Trials(trip[:, 0], trip[:, 1], trip[:, 2], rng.random(m) < afc)
    return trials, rng.random(n * d) + 0.1


@pytest.mark.parametrize("model", ["spose", "tste"])
def test_analytic_gradient_matches_finite_differences(model):
    n, d = 10, 3
    trials, x0 = random_trials(0, n, d, 150, 0.3)
    value = lambda x: _objective(x, model, n, d, trials, 0.02)[0]  # noqa: E731
    numeric = approx_fprime(x0, value, 1e-7)
    analytic = _objective(x0, model, n, d, trials, 0.02)[1]
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


def test_the_spose_penalty_keeps_its_slope_at_the_bound():
    """Entries at 0 (SPoSE's bound, where sparse fits put many) feel the L1 penalty too:
    forward differences, the only feasible ones, equal the gradient there."""
    n, d = 10, 3
    trials, x0 = random_trials(0, n, d, 150, 0.3)
    x0[::4] = 0.0
    value, grad = _objective(x0, "spose", n, d, trials, 0.02)
    for k in np.flatnonzero(x0 == 0):
        step = np.zeros_like(x0)
        step[k] = 1e-7
        forward = (_objective(x0 + step, "spose", n, d, trials, 0.02)[0] - value) / 1e-7
        assert grad[k] == pytest.approx(forward, abs=1e-6)


def array_objective(flat, model, n, d, t, penalty):
    """The objective written with numpy arrays (each candidate pair gathered, the pair
    weights scattered into an n x n matrix): the reference for the compiled passes."""
    x = flat.reshape(n, d)

    def scores(a, b):
        if model == "spose":
            return np.einsum("md,md->m", x[a], x[b]), None
        diff = x[a] - x[b]
        dist = np.einsum("md,md->m", diff, diff)
        alpha = float(max(d - 1, 1))
        return -(alpha + 1) / 2 * np.log1p(dist / alpha), dist

    (s_ij, d_ij), (s_ik, d_ik), (s_jk, d_jk) = (
        scores(t.i, t.j),
        scores(t.i, t.odd),
        scores(t.j, t.odd),
    )
    s_jk = np.where(t.afc, -np.inf, s_jk)
    top = np.maximum(np.maximum(s_ij, s_ik), s_jk)
    e = np.exp(np.stack([s_ij, s_ik, s_jk]) - top)
    p = e / e.sum(0)
    nll = -np.mean(np.log(np.maximum(p[0], 1e-300)))
    g = np.stack([p[0] - 1.0, p[1], p[2]]) / len(t.i)
    pairs = ((t.i, t.j), (t.i, t.odd), (t.j, t.odd))
    weights = []
    for k, dist in enumerate((d_ij, d_ik, d_jk)):
        gk = g[k]
        if model == "tste":
            alpha = float(max(d - 1, 1))
            gk = gk * (-(alpha + 1) / (2.0 * (alpha + dist)))
        weights.append(np.where(t.afc, 0.0, gk) if k == 2 else gk)
    a = np.concatenate([pr[0] for pr in pairs])
    b = np.concatenate([pr[1] for pr in pairs])
    pair_matrix = np.bincount(a * n + b, weights=np.concatenate(weights), minlength=n * n)
    pair_matrix = pair_matrix.reshape(n, n)
    pair_matrix = pair_matrix + pair_matrix.T
    if model == "spose":  # x >= 0
        value = nll + penalty * x.sum() / n
        grad = pair_matrix @ x + penalty / n
    else:
        grad = 2.0 * (pair_matrix.sum(1)[:, None] * x - pair_matrix @ x)
        value = nll + penalty * np.sum(x * x) / n
        grad = grad + 2.0 * penalty * x / n
    return value, grad.ravel()


@pytest.mark.parametrize("model", ["spose", "tste"])
def test_objective_equals_the_array_version_to_rounding(model):
    n, d = 30, 4
    trials, x0 = random_trials(1, n, d, 500, 0.2)
    value, grad = _objective(x0, model, n, d, trials, 0.01)
    ref_value, ref_grad = array_objective(x0, model, n, d, trials, 0.01)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15 * np.abs(ref_grad).max())


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


def test_dimensionality_choice_is_the_same_on_threads(sparse_study):
    _, table, ids = sparse_study
    kwargs = {"dims": (1, 2, 3), "n_folds": 2, "random_state": 4, "max_iter": 60}
    one = select_dimensionality(table, ids, **kwargs)
    two = select_dimensionality(table, ids, n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(one.scores, two.scores, check_exact=True)
    assert one.best_dims == two.best_dims
    np.testing.assert_array_equal(one.embedding.embedding, two.embedding.embedding)
    assert list(one.scores["n_dims"]) == [1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("model", ["spose", "tste"])
def test_dimensionality_choice_equals_the_array_versions(sparse_study, model, monkeypatch):
    """The same choice, held-out accuracies within 10 of the 1,000 trials held out per fold
    and the same similarity matrix to 0.005.  t-STE's fits end at the same point; SPoSE's
    (non-negative, L1) have flat directions, so an L-BFGS path from other rounding ends
    nearby: 5 trials apart at 5 dimensions, matrices 0.003 apart, when this was written."""
    _, table, ids = sparse_study
    kwargs = {"dims": (1, 2, 5), "n_folds": 3, "random_state": 0, "model": model}
    compiled = select_dimensionality(table, ids, **kwargs)
    monkeypatch.setattr(embedding, "_objective", array_objective)
    arrays = select_dimensionality(table, ids, **kwargs)
    assert compiled.best_dims == arrays.best_dims
    np.testing.assert_allclose(
        compiled.scores["heldout_accuracy"], arrays.scores["heldout_accuracy"], atol=0.01
    )
    np.testing.assert_allclose(
        compiled.embedding.similarity().upper(), arrays.embedding.similarity().upper(), atol=5e-3
    )


def test_embedding_validates_input(sparse_study):
    _, table, ids = sparse_study
    with pytest.raises(ValueError, match="'model' parameter of fit_embedding"):
        fit_embedding(table, ids, 2, model="umap")
    with pytest.raises(ValueError, match="'n_dims' parameter"):
        fit_embedding(table, ids, 0)
    with pytest.raises(ValueError, match="'stimuli' parameter"):
        fit_embedding(table, ids[:5], 2)


def test_a_large_sparse_study_leaves_the_chance_plateau_at_once():
    """At 1,000 faces (500 participants x 300 triplets) a 3-dimensional SPoSE fit converges
    within 300 iterations to a held-out accuracy far above chance (1/3).  From SPoSE's own
    start, |N(0.1, 0.01)|, the fit stayed at chance level for about 1,000 iterations."""
    truth = random_dissimilarity(1000, n_dims=4, random_state=0)
    responses = read_responses(
        simulate_responses(truth, Design(n_participants=500, n_trials=300), random_state=1)
    )
    table, ids = choice_table(responses)[:2]
    held_out = np.random.default_rng(0).random(len(table)) < 0.2
    fit = fit_embedding(table[~held_out], ids, 3, random_state=5, max_iter=300)
    assert fit.converged
    assert fit.accuracy(table[held_out]) > 0.6


def test_fits_stopped_by_the_iteration_limit_are_counted(sparse_study):
    _, table, ids = sparse_study
    stopped = select_dimensionality(table, ids, dims=(2, 3), n_folds=2, random_state=0, max_iter=5)
    assert list(stopped.scores["converged"]) == [False] * 4
    assert stopped.unconverged_fits == 5  # the four folds and the final fit
    done = select_dimensionality(table, ids, dims=(2, 3), n_folds=2, random_state=0)
    assert done.scores["converged"].all()
    assert done.unconverged_fits == 0
