"""Inference for model-human comparisons: bootstraps, dual bootstrap, Mantel test, FDR.

Bootstraps resample stimuli, participants or both and re-evaluate every model and the noise
ceiling on each draw (rsatoolbox's ``eval_bootstrap_pattern``, ``eval_bootstrap_rdm``,
``eval_bootstrap``).  A draw over stimuli becomes pair weights c_i * c_j (see
`analysis.kernels`), so all draws are evaluated as arrays.  The draws can be passed in
(``stimulus_indices``, ``participant_indices``) to reproduce another tool's resampling exactly.

The dual bootstrap (Schuett et al. 2023, eLife, "Statistical inference on representational
geometries") combines the variances of the three bootstraps, all run on the same draws, into an
estimate that is not inflated by counting the noise twice.  The formula is rsatoolbox's
``_dual_bootstrap`` (ported because rsatoolbox is a test-only dependency here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.stats
from statsmodels.stats.multitest import multipletests

from analysis._checks import check_choice, check_int, check_random_state, check_real, fail
from analysis._threads import check_n_jobs, map_in_threads
from analysis.cell_engine import SHARED_RANK_METHODS, RankSums
from analysis.compare import ModelInput, _engine, model_matrices, split_model_name
from analysis.evaluation import Engine, PairWeightRows
from analysis.kernels import (
    METHODS,
    SortedRows,
    correlate,
    dense_codes,
    tau_a_rows,
)
from analysis.kernels.permuted_products import permuted_upper_products
from analysis.kernels.permuted_tau import PermutedTau
from analysis.matrices import ParticipantMatrices, SimilarityMatrix, upper_indices

SCHEMES = ("stimuli", "participants", "both")
_DUAL_ORDER = ("both", "participants", "stimuli")  # the runs of a dual bootstrap
MIN_STIMULI = 3  # rsatoolbox drops draws with fewer distinct stimuli


def bootstrap_indices(n: int, n_boot: int, random_state=None) -> np.ndarray:
    """(n_boot, n) indices drawn with replacement from range(n)."""
    rng = check_random_state("bootstrap_indices", random_state)
    return rng.integers(0, n, size=(n_boot, n))


def stimulus_pair_weights(indices: np.ndarray, n_stimuli: int) -> np.ndarray:
    """(B, n_pairs) weights c_i * c_j from stimulus draws (B, n): pair (i, j) appears that
    often in the resampled matrix once self-pairs (a stimulus with its own copy) are dropped."""
    counts = draw_counts(indices, n_stimuli)
    rows, cols = upper_indices(n_stimuli)
    return counts[:, rows] * counts[:, cols]


def draw_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """(B, n) how often each item appears in each draw (vectorised bincount)."""
    indices = np.asarray(indices)
    if indices.ndim != 2 or (indices.size and (indices.min() < 0 or indices.max() >= n)):
        raise fail("draw_counts", "indices", f"a 2-D array of indices in [0, {n})", indices.shape)
    b = indices.shape[0]
    offsets = (np.arange(b) * n)[:, None]
    return np.bincount((indices + offsets).ravel(), minlength=b * n).reshape(b, n).astype(float)


@dataclass(frozen=True)
class Bootstrap:
    """Evaluations and noise ceilings over the draws of one bootstrap scheme.

    evaluations: (n_boot, n_models), NaN for draws with fewer than 3 distinct stimuli.
    noise_ceiling: (n_boot, 2) lower and upper bound per draw.
    """

    scheme: str
    method: str
    models: tuple[str, ...]
    evaluations: np.ndarray
    noise_ceiling: np.ndarray
    stimulus_indices: np.ndarray | None
    participant_indices: np.ndarray | None

    @property
    def valid(self) -> np.ndarray:
        return ~np.isnan(self.evaluations[:, 0])

    def covariance(self) -> np.ndarray:
        """Covariance (ddof 1) of [evaluations..., ceiling lower, ceiling upper] over valid
        draws -- the matrix rsatoolbox stores as ``Result.variances``."""
        matrix = np.concatenate([self.evaluations, self.noise_ceiling], axis=1)[self.valid]
        return np.atleast_2d(np.cov(matrix.T))

    def percentile_interval(self, level: float = 0.95) -> np.ndarray:
        """(n_models, 2) percentile bootstrap interval of each model's evaluation.

        A model with no defined evaluation in any draw gets (NaN, NaN), without numpy's
        all-NaN warning.
        """
        level = check_real("Bootstrap.percentile_interval", "level", level, low=0, high=1)
        tail = (1 - level) / 2
        interval = np.full((self.evaluations.shape[1], 2), np.nan)
        defined = ~np.isnan(self.evaluations).all(axis=0)
        if defined.any():
            interval[defined] = np.nanquantile(
                self.evaluations[:, defined], [tail, 1 - tail], axis=0
            ).T
        return interval


def bootstrap_evaluations(
    models: Mapping[str, ModelInput],
    human: ParticipantMatrices,
    method: str = "spearman",
    *,
    scheme: str = "stimuli",
    n_boot: int = 1000,
    random_state=None,
    stimulus_indices: np.ndarray | None = None,
    participant_indices: np.ndarray | None = None,
) -> Bootstrap:
    """Bootstrap the model evaluations and noise ceiling over stimuli, participants or both."""
    func = "bootstrap_evaluations"
    check_choice(func, "scheme", scheme, SCHEMES)
    n_boot = check_int(func, "n_boot", n_boot, minimum=2)
    names, engine = _engine(models, human, method)
    rng = check_random_state(func, random_state)
    stim, part = _draws(func, scheme, n_boot, human, rng, stimulus_indices, participant_indices)
    pair_w, part_w = _draw_weights(stim, part, human)
    evals, ceiling = engine.run(pair_w, part_w)
    if stim is not None:
        few = _too_few_stimuli(stim)
        evals[few] = np.nan
        ceiling[few] = np.nan
    return Bootstrap(scheme, method, tuple(names), evals, ceiling, stim, part)


def _draws(func, scheme, n_boot, human, rng, stimulus_indices, participant_indices):
    """Stimulus and participant draws for a scheme (given ones are validated, not redrawn).

    Participants are drawn before stimuli, as rsatoolbox's ``bootstrap_sample`` does.
    """
    part = stim = None
    if scheme in ("participants", "both"):
        part = participant_indices
        if part is None:
            part = rng.integers(0, human.n_participants, size=(n_boot, human.n_participants))
        part = _check_draws(func, "participant_indices", part, n_boot, human.n_participants)
    if scheme in ("stimuli", "both"):
        stim = stimulus_indices
        if stim is None:
            stim = rng.integers(0, human.n_stimuli, size=(n_boot, human.n_stimuli))
        stim = _check_draws(func, "stimulus_indices", stim, n_boot, human.n_stimuli)
    return stim, part


def _check_draws(func: str, name: str, draws, n_boot: int, n: int) -> np.ndarray:
    draws = np.asarray(draws)
    if draws.ndim != 2 or draws.shape[0] != n_boot or not np.issubdtype(draws.dtype, np.integer):
        raise fail(func, name, f"an integer array with {n_boot} rows", draws.shape)
    if draws.size and (draws.min() < 0 or draws.max() >= n):
        raise fail(func, name, f"indices in [0, {n})", (draws.min(), draws.max()))
    return draws


def _draw_weights(stim, part, human: ParticipantMatrices) -> tuple[PairWeightRows, np.ndarray]:
    n_boot = (stim if stim is not None else part).shape[0]
    ones = np.ones((n_boot, human.n_stimuli))
    pair_w = PairWeightRows(ones if stim is None else draw_counts(stim, human.n_stimuli))
    if part is None:
        part_w = np.ones((n_boot, human.n_participants))
    else:
        part_w = draw_counts(part, human.n_participants)
    return pair_w, part_w


def _too_few_stimuli(stim: np.ndarray) -> np.ndarray:
    counts = draw_counts(stim, int(stim.max()) + 1)
    return (counts > 0).sum(1) < MIN_STIMULI


@dataclass(frozen=True)
class DualBootstrap:
    """The three bootstraps on shared draws and the combined (dual) variance estimates.

    estimate: (n_models,) evaluations on the full data; noise_ceiling: (lower, upper) on the
    full data; model_variance (n_models,), difference_variance (one per model pair, in the
    order of `model_pairs`), ceiling_difference_variance (n_models, 2) for model - ceiling.
    """

    method: str
    models: tuple[str, ...]
    estimate: np.ndarray
    noise_ceiling: np.ndarray
    both: Bootstrap
    participants: Bootstrap
    stimuli: Bootstrap
    model_variance: np.ndarray
    difference_variance: np.ndarray
    ceiling_difference_variance: np.ndarray
    dof: int

    @property
    def model_pairs(self) -> list[tuple[int, int]]:
        return list(combinations(range(len(self.models)), 2))

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per model: estimate, dual-bootstrap SE and t-interval, percentile intervals
        of each single bootstrap, p against 0 (one-sided) and against the lower ceiling.

        Intervals and tests are centred on the full-data estimate (rsatoolbox centres them on
        the mean of the bootstrap evaluations) and use a t distribution with
        min(n_participants, n_stimuli) - 1 degrees of freedom, as rsatoolbox does."""
        level = check_real("DualBootstrap.table", "level", level, low=0, high=1)
        t = scipy.stats.t.ppf(0.5 + level / 2, self.dof)
        se = np.sqrt(np.maximum(self.model_variance, 0))
        eps = np.finfo(float).eps
        t0 = self.estimate / np.sqrt(np.maximum(self.model_variance, eps))
        t_nc = (self.estimate - self.noise_ceiling[0]) / np.sqrt(
            np.maximum(self.ceiling_difference_variance[:, 0], eps)
        )
        rows = []
        for k, name in enumerate(self.models):
            model, layer = split_model_name(name)
            row = {
                "model": model,
                "layer": layer,
                "method": self.method,
                "evaluation": self.estimate[k],
                "se": se[k],
                "ci_low": self.estimate[k] - t * se[k],
                "ci_high": self.estimate[k] + t * se[k],
                "p_zero": float(scipy.stats.t.sf(t0[k], self.dof)),
                "p_noise_ceiling": float(2 * scipy.stats.t.sf(abs(t_nc[k]), self.dof)),
                "noise_ceiling_lower": self.noise_ceiling[0],
                "noise_ceiling_upper": self.noise_ceiling[1],
            }
            for boot in (self.stimuli, self.participants, self.both):
                low, high = boot.percentile_interval(level)[k]
                row[f"ci_low_{boot.scheme}"] = low
                row[f"ci_high_{boot.scheme}"] = high
                row[f"se_{boot.scheme}"] = np.nanstd(boot.evaluations[:, k], ddof=1)
            rows.append(row)
        return pd.DataFrame(rows)

    def differences(self, level: float = 0.95) -> pd.DataFrame:
        """Pairwise model differences: estimate, dual SE, t-interval, two-sided p, BH-FDR."""
        t = scipy.stats.t.ppf(0.5 + level / 2, self.dof)
        rows = []
        for (a, b), var in zip(self.model_pairs, self.difference_variance, strict=True):
            diff = self.estimate[a] - self.estimate[b]
            se = float(np.sqrt(max(var, 0.0)))
            stat = diff / np.sqrt(max(var, np.finfo(float).eps))
            boot = self.both.evaluations[:, a] - self.both.evaluations[:, b]
            rows.append(
                {
                    "model_a": self.models[a],
                    "model_b": self.models[b],
                    "method": self.method,
                    "difference": diff,
                    "se": se,
                    "ci_low": diff - t * se,
                    "ci_high": diff + t * se,
                    "p": float(2 * scipy.stats.t.sf(abs(stat), self.dof)),
                    "p_bootstrap": _two_sided_bootstrap_p(boot),
                }
            )
        table = pd.DataFrame(rows)
        if len(table):
            table["p_fdr"] = fdr_bh(table["p"].to_numpy())
        return table


def _two_sided_bootstrap_p(samples: np.ndarray) -> float:
    """2 * min(share <= 0, share >= 0) of the bootstrap distribution, +1 corrected."""
    samples = samples[~np.isnan(samples)]
    low = (np.sum(samples <= 0) + 1) / (samples.size + 1)
    high = (np.sum(samples >= 0) + 1) / (samples.size + 1)
    return float(min(1.0, 2 * min(low, high)))


def dual_bootstrap(
    models: Mapping[str, ModelInput],
    human: ParticipantMatrices,
    method: str = "spearman",
    *,
    n_boot: int = 1000,
    random_state=None,
    stimulus_indices: np.ndarray | None = None,
    participant_indices: np.ndarray | None = None,
    rank_sums: RankSums | None = None,
) -> DualBootstrap:
    """Bootstrap over participants and stimuli on shared draws, with the dual-bootstrap
    variance correction (rsatoolbox ``eval_dual_bootstrap`` for fixed models).

    `rank_sums`: pass the same `RankSums` to the Spearman and the rho-a run on the same data
    and draws, and the second finishes the first one's rank sums (sparse designs; the same
    numbers, see `analysis.cell_engine`)."""
    func = "dual_bootstrap"
    n_boot = check_int(func, "n_boot", n_boot, minimum=2)
    names, engine = _engine(models, human, method, rank_sums)
    rng = check_random_state(func, random_state)
    stim, part = _draws(func, "both", n_boot, human, rng, stimulus_indices, participant_indices)
    runs = _DualRuns(stim, part, human)
    return runs.result(method, names, engine, runs.run(engine, _DUAL_ORDER))


class _DualRuns:
    """The draws of a dual bootstrap and its three engine runs (one per scheme), which may be
    made in any order and on any thread; `result` adds the run on the full data (after the
    others, as `Engine` prepares its caches for many draws) and combines them."""

    def __init__(self, stim: np.ndarray, part: np.ndarray, human: ParticipantMatrices) -> None:
        self.stim, self.part = stim, part
        self.n_participants, self.n_stimuli = human.n_participants, human.n_stimuli
        pair_w, part_w = _draw_weights(stim, part, human)
        ones_pairs = PairWeightRows(np.ones((len(stim), human.n_stimuli)))
        ones_part = np.ones_like(part_w)
        self.weights = {
            "both": (pair_w, part_w),
            "participants": (ones_pairs, part_w),
            "stimuli": (pair_w, ones_part),
        }
        self.full = (ones_pairs[:1], ones_part[:1])

    def run(self, engine: Engine, schemes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {scheme: engine.run(*self.weights[scheme]) for scheme in schemes}

    def result(self, method: str, names, engine: Engine, runs: dict) -> DualBootstrap:
        few = _too_few_stimuli(self.stim)
        boots = {}
        for scheme in _DUAL_ORDER:
            evals, ceiling = runs[scheme]
            evals[few] = np.nan  # rsatoolbox drops the draw from all three bootstraps
            ceiling[few] = np.nan
            boots[scheme] = Bootstrap(
                scheme, method, tuple(names), evals, ceiling, self.stim, self.part
            )
        full_e, full_c = engine.run(*self.full)
        covs = np.stack([boots[s].covariance() for s in _DUAL_ORDER])
        model_var, diff_var, nc_var = dual_variances(covs, self.n_participants, self.n_stimuli)
        return DualBootstrap(
            method,
            tuple(names),
            full_e[0],
            full_c[0],
            boots["both"],
            boots["participants"],
            boots["stimuli"],
            model_var,
            diff_var,
            nc_var,
            min(self.n_participants, self.n_stimuli) - 1,
        )


def dual_variances(
    covariances: np.ndarray, n_participants: int, n_stimuli: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dual-bootstrap variances from the covariances of the (both, participants, stimuli)
    bootstraps, each over [models..., ceiling lower, ceiling upper].

    Returns variances of each model evaluation, of each pairwise difference (pairs i < j) and
    of each model minus each ceiling bound (rsatoolbox ``extract_variances`` +
    ``_dual_bootstrap`` with both sample sizes).
    """
    n_models = covariances.shape[1] - 2
    diag = np.einsum("kjj->kj", covariances)
    model = diag[:, :n_models]
    ceiling = (
        model[:, :, None] - 2 * covariances[:, :n_models, n_models:] + diag[:, None, n_models:]
    )
    pairs = list(combinations(range(n_models), 2))
    contrast = np.zeros((len(pairs), n_models))
    for row, (a, b) in enumerate(pairs):
        contrast[row, a], contrast[row, b] = 1.0, -1.0
    diff = np.einsum("ij,kjl,il->ki", contrast, covariances[:, :n_models, :n_models], contrast)
    combine = _dual_formula(n_participants, n_stimuli)
    return combine(model), combine(diff), combine(ceiling)


def _dual_formula(n_rdm: int, n_pattern: int):
    a = n_rdm / (n_rdm - 1)
    b = n_pattern / (n_pattern - 1)

    def combine(v: np.ndarray) -> np.ndarray:
        both, rdm, pattern = v[0], v[1], v[2]
        var = a * rdm + b * pattern - a * b * (both - rdm - pattern)
        var = np.maximum(np.maximum(var, a * rdm), b * pattern)
        return np.minimum(var, both)

    return combine


@dataclass(frozen=True)
class MantelResult:
    method: str
    statistic: float
    p_value: float
    n_permutations: int
    alternative: str
    null: np.ndarray


def mantel_test(
    a: SimilarityMatrix,
    b: SimilarityMatrix,
    method: str = "spearman",
    *,
    n_permutations: int = 10_000,
    alternative: str = "greater",
    random_state=None,
    permutations: np.ndarray | None = None,
) -> MantelResult:
    """Mantel permutation test: permute the stimulus labels of `a` (rows and columns together)
    and recompute the statistic over the pairs both matrices have.

    p = (1 + #{null >= observed}) / (1 + n_permutations) for "greater" (``"two-sided"`` uses
    |null| >= |observed|, ``"less"`` null <= observed).  Against a complete `b`, Pearson,
    Spearman and rho-a take one permuted matrix and one dot product per permutation
    (`_permuted_dots`); tau-a runs one O(P log P) computation per permutation.
    """
    func = "mantel_test"
    check_choice(func, "method", method, METHODS)
    check_choice(func, "alternative", alternative, ("greater", "less", "two-sided"))
    if permutations is None:
        n_permutations = check_int(func, "n_permutations", n_permutations, minimum=1)
        rng = check_random_state(func, random_state)
        permutations = rng.permuted(np.tile(np.arange(a.n_stimuli), (n_permutations, 1)), axis=1)
    permutations = _check_draws(func, "permutations", permutations, len(permutations), a.n_stimuli)
    return mantel_tests(a, b, (method,), permutations, alternative)[0]


def mantel_tests(
    a: SimilarityMatrix,
    b: SimilarityMatrix,
    methods: tuple[str, ...],
    permutations: np.ndarray,
    alternative: str = "greater",
) -> list[MantelResult]:
    """`mantel_test` of each method on the same (checked) permutations; Spearman and rho-a
    share their permuted rank products (their nulls differ by a constant factor)."""
    b = b.reorder(a.stimuli)
    x = a.dissimilarity().values
    y = b.dissimilarity().upper()
    xu = x[upper_indices(a.n_stimuli)]
    nulls = _mantel_nulls(methods, x, y, permutations)
    out = []
    for method in methods:
        observed, null = compare_vectors(method, xu, y), nulls[method]
        if alternative == "greater":
            hits = np.sum(null >= observed - 1e-12)
        elif alternative == "less":
            hits = np.sum(null <= observed + 1e-12)
        else:
            hits = np.sum(np.abs(null) >= abs(observed) - 1e-12)
        p = (1 + hits) / (1 + len(permutations))
        out.append(MantelResult(method, observed, float(p), len(permutations), alternative, null))
    return out


def compare_vectors(method: str, x: np.ndarray, y: np.ndarray) -> float:
    """The statistic between two pair vectors over the pairs both have."""
    w = (~np.isnan(x) & ~np.isnan(y)).astype(float)
    return float(correlate(method, np.nan_to_num(x), np.nan_to_num(y), w))


_MANTEL_CHUNK_ELEMENTS = 4_000_000


def _mantel_nulls(methods, x: np.ndarray, y: np.ndarray, perms: np.ndarray) -> dict:
    """The null (one statistic per permutation) of each method.

    With complete y, the mean and spread of the permuted x (or of its ranks) do not change
    under a permutation, so each statistic is a dot product of the centred permuted x with
    the centred y, times a constant: Spearman's and rho-a's are the same rank products.
    """
    rows, cols = upper_indices(x.shape[0])
    complete = not (np.isnan(y).any() or np.isnan(x[rows, cols]).any())
    products = {}
    nulls = {}
    for method in methods:
        if method == "tau-a" and not np.isnan(x[rows, cols]).any():
            nulls[method] = _tau_a_mantel_null(x, y, perms)
        elif not complete or method == "tau-a":
            nulls[method] = _gathered_null(method, x, y, perms)
        else:
            kind = "values" if method == "pearson" else "ranks"
            if kind not in products:
                products[kind] = _centred_products(kind, x, y, perms)
            dots, sum_x2, sum_y2 = products[kind]
            if method == "rho-a":
                nulls[method] = dots * (12.0 / (y.size**3 - y.size))
            elif sum_x2 * sum_y2 == 0:  # a constant matrix has no correlation
                nulls[method] = np.full(len(perms), np.nan)
            else:
                nulls[method] = dots * (1.0 / np.sqrt(sum_x2 * sum_y2))
    return nulls


def _centred_products(kind: str, x: np.ndarray, y: np.ndarray, perms: np.ndarray):
    """For every permutation p, sum over pairs i < j of x'[p_i, p_j] y'[i, j] (x', y' the
    centred values or mid-ranks), and the two sums of squares.

    Mid-ranks minus their mean are multiples of 1/2: doubled, they are integers, and the
    products are summed in int64, exactly: the float64 sum of the centred ranks whenever that
    sum is exact (every partial sum below 2^51: always below about 775 stimuli), so the same
    floats in any order.  Values (Pearson) are summed in float64 in row order: equal to the
    pair order's sum up to float rounding.
    """
    n = x.shape[0]
    xu = x[upper_indices(n)]
    if kind == "ranks":
        xu = SortedRows(xu).ranks(np.ones((1, xu.size)))[0]
        y = SortedRows(y).ranks(np.ones((1, y.size)))[0]
    tx, ty = xu - xu.mean(), y - y.mean()
    sums = float(np.sum(tx**2)), float(np.sum(ty**2))
    scale = 1.0
    if kind == "ranks" and y.size**3 < 2**63:  # |sum| <= N^3 / 3 after doubling
        tx, ty, scale = np.rint(2 * tx).astype(np.int64), np.rint(2 * ty).astype(np.int64), 4.0
    dots = np.empty(len(perms), dtype=tx.dtype)
    permuted_upper_products(_square(tx, n), _square(ty, n), np.ascontiguousarray(perms), dots)
    return dots / scale, *sums


def _square(upper: np.ndarray, n: int) -> np.ndarray:
    """The symmetric n x n matrix of an upper-triangle vector, zero diagonal."""
    out = np.zeros((n, n), dtype=upper.dtype)
    rows, cols = upper_indices(n)
    out[rows, cols] = out[cols, rows] = upper
    return out


def _gathered_null(method: str, x: np.ndarray, y: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """The statistic of each permutation over the pairs y has, in chunks of permutations."""
    rows, cols = upper_indices(x.shape[0])
    y_ok = ~np.isnan(y)
    null = np.empty(len(perms))
    step = max(1, _MANTEL_CHUNK_ELEMENTS // rows.size)
    for start in range(0, len(perms), step):
        p = perms[start : start + step]
        gathered = x[p[:, rows], p[:, cols]]
        if method == "tau-a":
            null[start : start + step] = tau_a_rows(
                gathered[:, y_ok], y[y_ok], np.ones(int(y_ok.sum()))
            )
        else:
            w = np.broadcast_to(y_ok.astype(float), gathered.shape)
            null[start : start + step] = correlate(method, gathered, np.nan_to_num(y)[None], w)
    return null


def _tau_a_mantel_null(x: np.ndarray, y: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """tau-a for every permutation of a complete matrix x: the order codes of x are taken
    once and move with the entries, those of y are fixed (the y pairs that are missing are
    left out), and each permutation is one compiled gather and count (`PermutedTau`)."""
    n = x.shape[0]
    rows, cols = upper_indices(n)
    y_ok = ~np.isnan(y)
    upper_codes = dense_codes(x[rows, cols][None], np.ones((1, rows.size), dtype=bool))[0]
    x_codes = np.zeros((n, n), dtype=np.int64)
    x_codes[rows, cols] = x_codes[cols, rows] = upper_codes[0]
    y_codes = np.full(rows.size, -1, dtype=np.int64)
    y_codes[y_ok] = dense_codes(y[y_ok][None], np.ones((1, int(y_ok.sum())), dtype=bool))[0][0]
    return PermutedTau(x_codes, y_codes, rows, cols).tau_a(perms)


def fdr_bh(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (statsmodels ``multipletests``); NaN stay NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out


def compare_models(
    models: Mapping[str, ModelInput],
    human: ParticipantMatrices,
    methods: tuple[str, ...] = ("spearman", "pearson", "rho-a", "tau-a"),
    *,
    n_boot: int = 1000,
    n_permutations: int = 10_000,
    level: float = 0.95,
    random_state=None,
    group: SimilarityMatrix | None = None,
    n_jobs: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model x layer against the humans, for every method.

    For each method: evaluations and noise ceiling, dual bootstrap (with the stimulus-only,
    participant-only and combined percentile intervals), a Mantel test of the model against
    the group human matrix (`group`, default: the pooled participants), and
    Benjamini-Hochberg FDR across all models x layers (per method) for the Mantel and the
    t-test against 0.  Returns (model table, pairwise difference table).  One seed drives all
    draws; every method uses the same draws.  The dual bootstraps and the Mantel tests run on
    `n_jobs` threads (the same numbers for any `n_jobs`, `analysis._threads`).
    """
    func = "compare_models"
    if not methods:
        raise fail(func, "methods", "a non-empty tuple", methods)
    for method in methods:
        check_choice(func, "methods", method, METHODS)
    rng = check_random_state(func, random_state)
    n_boot = check_int(func, "n_boot", n_boot, minimum=2)
    n_permutations = check_int(func, "n_permutations", n_permutations, minimum=1)
    n_jobs = check_n_jobs(func, n_jobs)
    aligned = model_matrices(models, human.stimuli)
    part = rng.integers(0, human.n_participants, size=(n_boot, human.n_participants))
    stim = rng.integers(0, human.n_stimuli, size=(n_boot, human.n_stimuli))
    perms = rng.permuted(np.tile(np.arange(human.n_stimuli), (n_permutations, 1)), axis=1)
    group = human.dissimilarity().group() if group is None else group.reorder(human.stimuli)

    draws = _DualRuns(stim, part, human)
    rank_sums = RankSums()
    engines = [
        _engine(aligned, human, m, rank_sums if m in SHARED_RANK_METHODS else None)[1]
        for m in methods
    ]

    def run(task: tuple[str, list[int], tuple]) -> list:
        kind, ks, what = task
        if kind == "duals":
            return [draws.run(engines[k], what) for k in ks]
        return mantel_tests(aligned[what], group, tuple(methods[k] for k in ks), perms)

    # Independent tasks, about the longest first so the threads end together: each dual
    # bootstrap in two (the runs that draw stimuli, which share the model evaluations of each
    # stimulus draw, and the participants-only run), the Mantel tests of each model between
    # them; tau-a first, Spearman and rho-a together (the second finishes the first one's
    # rank sums and takes its permuted rank products)
    ranks = [k for k, m in enumerate(methods) if m in SHARED_RANK_METHODS]
    groups = [[k] for k, m in enumerate(methods) if m not in SHARED_RANK_METHODS]
    groups = sorted(groups + ([ranks] if ranks else []), key=lambda g: methods[g[0]] != "tau-a")
    tasks = [("duals", g, ("both", "stimuli")) for g in groups]
    tasks += [("mantels", g, name) for g in groups for name in aligned]
    tasks += [("duals", g, ("participants",)) for g in groups]
    runs: dict[int, dict] = {k: {} for k in range(len(methods))}
    mantel: dict[int, list[MantelResult]] = {k: [] for k in range(len(methods))}
    for (kind, ks, _), results in zip(tasks, map_in_threads(run, tasks, n_jobs), strict=True):
        for k, result in zip(ks, results, strict=True):
            if kind == "duals":
                runs[k].update(result)
            else:  # the models in order
                mantel[k].append(result)
    tables, diffs = [], []
    names = list(aligned)
    for k, method in enumerate(methods):
        dual = draws.result(method, names, engines[k], runs[k])
        table = dual.table(level)
        table["mantel_r"] = [m.statistic for m in mantel[k]]
        table["mantel_p"] = [m.p_value for m in mantel[k]]
        table["mantel_p_fdr"] = fdr_bh(table["mantel_p"].to_numpy())
        table["p_zero_fdr"] = fdr_bh(table["p_zero"].to_numpy())
        table["n_boot"] = n_boot
        table["n_permutations"] = n_permutations
        tables.append(table)
        diffs.append(dual.differences(level))
    return pd.concat(tables, ignore_index=True), pd.concat(diffs, ignore_index=True)
