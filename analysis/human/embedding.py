"""Similarity embeddings for sparse triplet / 2AFC designs.

When each pair is offered too rarely for counts, fit an embedding X (n_stimuli x d) whose
choice model explains the observed choices, and read similarities from it:

* ``"spose"`` (Zheng et al. 2019; Hebart et al. 2020): non-negative X, pair score
  s_ab = x_a . x_b, P(i, j kept together) = softmax of the candidate pair scores, L1 penalty
  on X (sparse, interpretable dimensions).
* ``"tste"`` (van der Maaten & Weinberger 2012, adapted to odd-one-out): Student-t kernel
  k_ab = (1 + |x_a - x_b|^2 / alpha)^(-(alpha + 1) / 2), alpha = max(d - 1, 1),
  P(i, j together) = k_ij / sum of candidate kernels, L2 penalty.

For 2AFC trials only the two reference pairs are candidates.  Objective: mean negative
log-likelihood + penalty, minimised with scipy's L-BFGS-B and analytic gradients (one
compiled pass over the trials, `choice_kernel`).  Dimensionality is chosen by k-fold held-out
accuracy of predicting the chosen pair.  The similarity matrix is the model's choice
probability for (i, j) averaged over every third stimulus -- on the same scale as the count
matrix (chance 1/3).  Fitted with numpy/scipy because this size of problem does not need a
GPU framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from analysis._checks import check_choice, check_int, check_random_state, check_real, fail
from analysis._threads import check_n_jobs, map_in_threads
from analysis.human.choice_kernel import pair_scores, scatter_gradient
from analysis.matrices import SimilarityMatrix

MODELS = ("spose", "tste")


@dataclass(frozen=True)
class _Trials:
    i: np.ndarray
    j: np.ndarray
    odd: np.ndarray
    afc: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> _Trials:
        afc = (
            table["trial_type"].to_numpy() == "afc"
            if "trial_type" in table
            else np.zeros(len(table), bool)
        )
        return cls(*(table[c].to_numpy(np.int64) for c in ("i", "j", "odd")), afc)

    def subset(self, rows: np.ndarray) -> _Trials:
        return _Trials(self.i[rows], self.j[rows], self.odd[rows], self.afc[rows])


def _alpha(n_dims: int) -> float:
    return float(max(n_dims - 1, 1))


def _scores(model: str, xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair scores s_ab (log-kernel for t-STE) of the rows of xa and xb and, for t-STE,
    squared distances."""
    if model == "spose":
        return np.einsum("md,md->m", xa, xb), np.empty(0)
    diff = xa - xb
    dist = np.einsum("md,md->m", diff, diff)
    alpha = _alpha(xa.shape[1])
    return -(alpha + 1) / 2 * np.log1p(dist / alpha), dist


def _choice_probs(model: str, x: np.ndarray, t: _Trials):
    """Softmax over candidate pairs: (p_ij, p_ik, p_jk) and the per-pair intermediates."""
    # each stimulus row gathered once per trial; `take` copies the same rows as x[t.i] does,
    # at a fraction of the cost of fancy indexing
    xi, xj, xk = (np.take(x, rows, axis=0) for rows in (t.i, t.j, t.odd))
    s_ij, d_ij = _scores(model, xi, xj)
    s_ik, d_ik = _scores(model, xi, xk)
    s_jk, d_jk = _scores(model, xj, xk)
    s_jk = np.where(t.afc, -np.inf, s_jk)  # (j, odd) is not a candidate on 2AFC trials
    top = np.maximum(np.maximum(s_ij, s_ik), s_jk)
    e = np.exp(np.stack([s_ij, s_ik, s_jk]) - top)
    p = e / e.sum(0)
    return p, (s_ij, s_ik, s_jk), (d_ij, d_ik, d_jk)


def odd_one_probabilities(model: str, x: np.ndarray, triplets: np.ndarray) -> np.ndarray:
    """P(item k of each triplet is the odd one), shape (n_triplets, 3), under embedding ``x``.

    Item 0 is odd when (1, 2) is kept together, item 1 when (0, 2), item 2 when (0, 1).
    """
    t = np.asarray(triplets, dtype=np.int64)
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    p, _, _ = _choice_probs(model, x, _Trials(b, c, a, np.zeros(len(t), bool)))
    # p[0]: (b, c) together (a odd); p[1]: (b, a) together (c odd); p[2]: (c, a) (b odd)
    return np.stack([p[0], p[2], p[1]], axis=1)


def _objective(flat, model, n, d, t, penalty):
    x = flat.reshape(n, d)
    tste = model == "tste"
    scores, slopes = np.empty((3, len(t.i))), np.empty((3, len(t.i)) if tste else (3, 0))
    pair_scores(x, t.i, t.j, t.odd, t.afc, tste, _alpha(d), scores, slopes)
    e = np.exp(scores - scores.max(0))
    p = e / e.sum(0)
    value = -np.mean(np.log(np.maximum(p[0], 1e-300)))
    grad = np.zeros((n, d))
    scatter_gradient(x, t.i, t.j, t.odd, p, slopes, tste, grad)
    if tste:
        value += penalty * np.sum(x * x) / n
        grad += 2.0 * penalty * x / n
    else:  # x >= 0 (the fit's bounds), so |x| = x, with slope 1 at 0 too (np.sign gives 0
        # there, which hid the penalty from the bound's entries and failed line searches)
        value += penalty * x.sum() / n
        grad += penalty / n
    return value, grad.ravel()


@dataclass(frozen=True)
class TripletEmbedding:
    """A fitted choice embedding (see the module docstring)."""

    model: str
    embedding: np.ndarray
    stimuli: tuple[str, ...]
    penalty: float
    random_state: int | None
    n_trials: int
    train_accuracy: float
    converged: bool

    @property
    def n_dims(self) -> int:
        return self.embedding.shape[1]

    def accuracy(self, table: pd.DataFrame) -> float:
        """Share of trials whose chosen pair the model rates most probable (ties split)."""
        return _accuracy(self.model, self.embedding, _Trials.from_table(table))

    def similarity(self, name: str = "human (embedding)") -> SimilarityMatrix:
        """P(i, j kept together | triplet i, j, k) averaged over all third stimuli k."""
        x = self.embedding
        n = len(x)
        if self.model == "spose":
            score = x @ x.T
        else:
            sq = np.sum(x * x, 1)
            dist = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
            alpha = _alpha(self.n_dims)
            score = -(alpha + 1) / 2 * np.log1p(dist / alpha)
        sim = np.zeros((n, n))
        for a in range(n):  # one n x n slab per stimulus keeps memory at O(n^2)
            s_ab = score[a][:, None]  # (b, 1)
            s_ak = score[a][None, :]  # (1, k)
            s_bk = score  # (b, k)
            top = np.maximum(np.maximum(s_ab, s_ak), s_bk)
            num = np.exp(s_ab - top)
            p = num / (num + np.exp(s_ak - top) + np.exp(s_bk - top))
            valid = np.ones((n, n), bool)
            valid[:, a] = False
            valid[np.arange(n), np.arange(n)] = False
            sim[a] = (p * valid).sum(1) / np.maximum(valid.sum(1), 1)
        sim = (sim + sim.T) / 2
        measure = f"{self.model} embedding ({self.n_dims} dims): mean choice probability"
        return SimilarityMatrix(sim, self.stimuli, "similarity", None, measure, name)


def _accuracy(model: str, x: np.ndarray, t: _Trials) -> float:
    if len(t.i) == 0:
        return float("nan")
    _, scores, _ = _choice_probs(model, x, t)
    s = np.stack(scores)
    best = s.max(0)
    tied = (np.isclose(s, best, rtol=1e-12, atol=1e-12)).sum(0)
    hit = np.isclose(s[0], best, rtol=1e-12, atol=1e-12)
    return float(np.mean(hit / tied))


# L-BFGS iterations a fit may take. The fits start on a plateau (every stimulus near the same
# point) and leave it late: at 1,000 faces (500 participants x 300 triplets) 3 to 8 dimensions
# need 1,200-1,320 iterations; stopped at 1,000 they predicted held-out triplets no better than
# one dimension (0.51, against 0.52 for one and 0.63-0.71 converged; RESULTS.md, analysis).
MAX_ITER = 10_000


def fit_embedding(
    table: pd.DataFrame,
    stimuli: Sequence[str],
    n_dims: int,
    *,
    model: str = "spose",
    penalty: float = 0.01,
    random_state: int | None = None,
    max_iter: int = MAX_ITER,
) -> TripletEmbedding:
    """Fit an embedding to a `choice_table` (columns i, j, odd[, trial_type]).

    `penalty` weighs the L1 (SPoSE) or L2 (t-STE) norm of X, divided by the number of stimuli.
    `random_state` seeds the initial embedding and is recorded in the result.
    """
    func = "fit_embedding"
    check_choice(func, "model", model, MODELS)
    n_dims = check_int(func, "n_dims", n_dims, minimum=1)
    penalty = check_real(func, "penalty", penalty, low=0)
    max_iter = check_int(func, "max_iter", max_iter, minimum=1)
    trials = _Trials.from_table(table)
    n = len(stimuli)
    if len(trials.i) == 0:
        raise fail(func, "table", "at least one trial", 0)
    if max(trials.i.max(), trials.j.max(), trials.odd.max()) >= n:
        raise fail(func, "stimuli", "one id per stimulus index in the table", n)
    x, converged = _fit(trials, n, n_dims, model, penalty, random_state, max_iter)
    return TripletEmbedding(
        model,
        x,
        tuple(str(s) for s in stimuli),
        penalty,
        random_state,
        len(trials.i),
        _accuracy(model, x, trials),
        converged,
    )


def _fit(trials, n, n_dims, model, penalty, random_state, max_iter):
    rng = check_random_state("fit_embedding", random_state)
    if model == "spose":
        # Spread on the scale of a fitted embedding (entries about 0 to 3).  SPoSE's own start,
        # |N(0.1, 0.01)|, gives every pair nearly the same score: the fit then spends most of
        # its iterations near chance level (1,256 of 1,330 in a 6-dim fit at 1,000 faces).
        x0 = rng.uniform(0.0, 1.0, size=(n, n_dims))
        bounds = [(0.0, None)] * (n * n_dims)
    else:
        x0 = rng.normal(0.0, 0.1, size=(n, n_dims))
        bounds = None
    result = minimize(
        _objective,
        x0.ravel(),
        args=(model, n, n_dims, trials, penalty),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter},
    )
    return result.x.reshape(n, n_dims), bool(result.success)


@dataclass(frozen=True)
class DimensionSelection:
    """Held-out accuracy per dimensionality and fold, the choice, and the refitted embedding."""

    scores: pd.DataFrame
    best_dims: int
    embedding: TripletEmbedding
    n_folds: int
    random_state: int | None

    @property
    def unconverged_fits(self) -> int:
        """Fits (folds and the final refit) that L-BFGS-B did not report converged (the
        iteration limit, or a line search that failed)."""
        return int((~self.scores["converged"]).sum()) + (not self.embedding.converged)

    def summary(self) -> pd.DataFrame:
        """Mean and SD of held-out accuracy per dimensionality."""
        return (
            self.scores.groupby("n_dims")["heldout_accuracy"]
            .agg(["mean", "std"])
            .reset_index()
            .rename(columns={"mean": "heldout_accuracy", "std": "heldout_accuracy_sd"})
        )


def select_dimensionality(
    table: pd.DataFrame,
    stimuli: Sequence[str],
    *,
    dims: Sequence[int] = (1, 2, 3, 4, 6, 8, 12),
    n_folds: int = 5,
    model: str = "spose",
    penalty: float = 0.01,
    random_state: int | None = None,
    max_iter: int = MAX_ITER,
    n_jobs: int = 1,
) -> DimensionSelection:
    """Choose the dimensionality with the best mean k-fold held-out accuracy (ties -> fewer
    dimensions), then refit on all trials.  Folds are a seeded random partition of trials.
    The fold fits run on `n_jobs` threads (the same result for any `n_jobs`,
    `analysis._threads`)."""
    func = "select_dimensionality"
    n_folds = check_int(func, "n_folds", n_folds, minimum=2)
    n_jobs = check_n_jobs(func, n_jobs)
    dims = sorted({check_int(func, "dims", d, minimum=1) for d in dims})
    if not dims:
        raise fail(func, "dims", "a non-empty list of integers", dims)
    trials = _Trials.from_table(table)
    m = len(trials.i)
    if m < n_folds:
        raise fail(func, "table", f"at least n_folds={n_folds} trials", m)
    rng = check_random_state(func, random_state)
    fold = rng.permutation(np.arange(m) % n_folds)
    seeds = rng.integers(0, 2**31 - 1, size=(len(dims), n_folds))
    splits = [(trials.subset(fold != f), trials.subset(fold == f)) for f in range(n_folds)]

    def heldout(task: tuple[int, int]) -> dict:
        a, f = task
        (train, test), d = splits[f], dims[a]
        x, converged = _fit(train, len(stimuli), d, model, penalty, int(seeds[a, f]), max_iter)
        accuracy = _accuracy(model, x, test)
        return {"n_dims": d, "fold": f, "heldout_accuracy": accuracy, "converged": converged}

    # the most dimensions first: the longest fits start early, so the threads end together
    tasks = [(a, f) for a in reversed(range(len(dims))) for f in range(n_folds)]
    done = dict(zip(tasks, map_in_threads(heldout, tasks, n_jobs), strict=True))
    scores = pd.DataFrame([done[a, f] for a in range(len(dims)) for f in range(n_folds)])
    means = scores.groupby("n_dims")["heldout_accuracy"].mean()
    best = int(means.index[np.flatnonzero(means.to_numpy() >= means.max() - 1e-12)[0]])
    final_seed = int(rng.integers(0, 2**31 - 1))
    embedding = fit_embedding(
        table,
        stimuli,
        best,
        model=model,
        penalty=penalty,
        random_state=final_seed,
        max_iter=max_iter,
    )
    return DimensionSelection(scores, best, embedding, n_folds, random_state)
