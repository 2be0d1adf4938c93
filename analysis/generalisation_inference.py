"""Inference on cross-model relevance generalisation: intervals, asymmetry and factor tests.

Input is modelsvc's per-image masking outcome (`CrossCorrect`: correct[S, M, N, K] for mask
sources S = the models then baselines, tested models M, images N, fractions K).  A cell's
area under the k-curve (AUC, trapezoid / k range) is a mean over images of each image's own
curve area, so a bootstrap over images is one weighted mean per draw; every cell uses the
same draws, so differences of cells (asymmetries, gains, contrasts) get intervals too.

* `auc_draws`: point AUC (S, M) and its image-bootstrap draws (B, S, M).
* `cell_intervals`: every G[A, B] with its interval and the gain over the random-mask
  baseline with interval and two-sided bootstrap p.
* `asymmetry_intervals`: G[A, B] - G[B, A] per unordered pair, interval, two-sided bootstrap
  p and BH-FDR.
* `factor_contrasts`: the *transfer* T[A, B] = sign * (G[A, B] - G[random, B]) (sign +1 when
  masks keep the top-k pixels, -1 when they remove them, so T > 0 means A's relevant pixels
  matter to B more than random ones) averaged over the pairs that differ only in one factor
  (seed, task, pretraining, any attribute), and ordered contrasts between factors (e.g. seed
  >= task >> pretraining) with bootstrap intervals, a one-sided permutation test over model
  labels (exact enumeration when all relabellings fit in `n_permutations`) and BH-FDR.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_columns, check_int, check_random_state, fail
from analysis.inference import _two_sided_bootstrap_p, bootstrap_indices, draw_counts, fdr_bh

MODES = ("keep", "remove")
_PERMUTATION_CHUNK = 4096


@dataclass(frozen=True)
class CrossCorrect:
    """Per-image masking outcomes (modelsvc `CrossMasking` / the masking artifact).

    correct: (S, M, N, K) bool, sources = models (in `models` order) then baselines.
    mode: "keep" (the top-k pixels were kept) or "remove" (they were removed).
    unmasked_correct: optional (M, N) bool, each model on the original images.
    """

    correct: np.ndarray
    sources: tuple[str, ...]
    models: tuple[str, ...]
    fractions: tuple[float, ...]
    mode: str = "keep"
    unmasked_correct: np.ndarray | None = None

    def __post_init__(self) -> None:
        func = "CrossCorrect"
        shape = (len(self.sources), len(self.models), len(self.fractions))
        c = np.asarray(self.correct)
        if c.ndim != 4 or (c.shape[0], c.shape[1], c.shape[3]) != shape:
            raise fail(func, "correct", f"an array (S, M, N, K) with (S, M, K) = {shape}", c.shape)
        if tuple(self.sources[: len(self.models)]) != tuple(self.models):
            raise fail(func, "sources", "the models first, in the order of 'models'", self.sources)
        check_choice(func, "mode", self.mode, MODES)
        u = self.unmasked_correct
        if u is not None and np.shape(u) != (len(self.models), c.shape[2]):
            raise fail(func, "unmasked_correct", f"shape {(len(self.models), c.shape[2])}", u.shape)

    @property
    def n_images(self) -> int:
        return int(np.shape(self.correct)[2])

    @property
    def sign(self) -> int:
        return 1 if self.mode == "keep" else -1

    def image_auc(self) -> np.ndarray:
        """(S, M, N) each image's area under its 0/1 k-curve (the cell AUC is its mean)."""
        values = np.asarray(self.correct, dtype=float)
        x = np.asarray(self.fractions, dtype=float)
        if len(x) == 1:
            return values[..., 0]
        return np.trapezoid(values, x, axis=-1) / (x[-1] - x[0])


def auc_draws(
    cross: CrossCorrect, n_boot: int, random_state=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point AUC (S, M), bootstrap AUC (B, S, M) over images, and the draws' counts (B, N)."""
    n_boot = check_int("auc_draws", "n_boot", n_boot, minimum=1)
    per_image = cross.image_auc()
    n = cross.n_images
    counts = draw_counts(bootstrap_indices(n, n_boot, random_state), n)
    boot = np.einsum("bn,smn->bsm", counts, per_image) / n
    return per_image.mean(axis=2), boot, counts


def _interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 (NaN where every draw is NaN)."""
    if np.isnan(samples).all():
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def cell_intervals(
    cross: CrossCorrect,
    point: np.ndarray,
    boot: np.ndarray,
    *,
    level: float = 0.95,
    baseline: str = "random",
) -> pd.DataFrame:
    """One row per (mask source, tested model): AUC and interval; for model sources, the gain
    over `baseline` (AUC(A -> B) - AUC(baseline -> B)) with interval and two-sided p."""
    low, high = _interval(boot, level)
    has_base = baseline in cross.sources
    rows = []
    for s, source in enumerate(cross.sources):
        for m, model in enumerate(cross.models):
            row = {
                "model_a": source,
                "model_b": model,
                "auc": point[s, m],
                "ci_low": low[s, m],
                "ci_high": high[s, m],
            }
            if has_base and source in cross.models:
                b = cross.sources.index(baseline)
                gain = boot[:, s, m] - boot[:, b, m]
                row["gain_over_baseline"] = point[s, m] - point[b, m]
                row["gain_ci_low"], row["gain_ci_high"] = _interval(gain, level)
                row["gain_p"] = _two_sided_bootstrap_p(gain)
            rows.append(row)
    return pd.DataFrame(rows)


def asymmetry_intervals(
    cross: CrossCorrect, point: np.ndarray, boot: np.ndarray, *, level: float = 0.95
) -> pd.DataFrame:
    """G[A, B] - G[B, A] for every unordered model pair: interval, two-sided bootstrap p
    (share of draws on the other side of 0, doubled, +1 corrected) and BH-FDR."""
    rows = []
    for a, b in itertools.combinations(range(len(cross.models)), 2):
        diff = boot[:, a, b] - boot[:, b, a]
        low, high = _interval(diff, level)
        rows.append(
            {
                "model_a": cross.models[a],
                "model_b": cross.models[b],
                "g_ab": point[a, b],
                "g_ba": point[b, a],
                "asymmetry": point[a, b] - point[b, a],
                "ci_low": low,
                "ci_high": high,
                "p": _two_sided_bootstrap_p(diff),
            }
        )
    columns = ["model_a", "model_b", "g_ab", "g_ba", "asymmetry", "ci_low", "ci_high", "p"]
    table = pd.DataFrame(rows, columns=columns)
    table["p_fdr"] = fdr_bh(table["p"].to_numpy(float)) if len(table) else []
    return table


def transfer(cross: CrossCorrect, auc: np.ndarray, baseline: str = "random") -> np.ndarray:
    """T[..., A, B] = sign * (G[A, B] - G[baseline, B]) over the model sources; `auc` is
    (..., S, M).  Without the baseline there is nothing to measure transfer against."""
    if baseline not in cross.sources:
        raise fail("transfer", "cross", f"a {baseline!r} mask source", cross.sources)
    n = len(cross.models)
    base = auc[..., cross.sources.index(baseline), None, :]
    return cross.sign * (auc[..., :n, :] - base)


def only_differs(models: Sequence[str], info: pd.DataFrame, factors: Sequence[str]) -> dict:
    """factor -> (M, M) bool: A != B differ in that factor and agree on every other one."""
    check_columns("only_differs", "info", info, ["model", *factors])
    meta = info.drop_duplicates("model").set_index("model")
    missing = sorted(set(models) - set(meta.index))
    if missing:
        raise fail("only_differs", "info", "a row for every model", f"missing {missing}")
    values = {f: meta.loc[list(models), f].astype(str).to_numpy() for f in factors}
    equal = {f: v[:, None] == v[None, :] for f, v in values.items()}
    out = {}
    for f in factors:
        mask = ~equal[f]
        for other in factors:
            if other != f:
                mask = mask & equal[other]
        out[f] = mask
    return out


def _masked_means(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of values[..., A, B] over the pairs in mask (NaN when there are none)."""
    n = mask.sum()
    if n == 0:
        return np.full(values.shape[:-2], np.nan)
    return (values * mask).sum(axis=(-2, -1)) / n


def _permutations(m: int, n_permutations: int, rng) -> tuple[np.ndarray, bool]:
    """All m! relabellings when they fit in n_permutations (exact), else random ones."""
    if math.factorial(m) <= n_permutations:
        return np.array(list(itertools.permutations(range(m)))), True
    return np.array([rng.permutation(m) for _ in range(n_permutations)]), False


def _permutation_stats(values: np.ndarray, first: np.ndarray, second: np.ndarray, perms):
    """Contrast mean(values | first) - mean(values | second) under each relabelling."""
    out = []
    n1, n2 = first.sum(), second.sum()
    for start in range(0, len(perms), _PERMUTATION_CHUNK):
        p = perms[start : start + _PERMUTATION_CHUNK]
        rows, cols = p[:, :, None], p[:, None, :]
        out.append(
            (values * first[rows, cols]).sum((1, 2)) / n1
            - (values * second[rows, cols]).sum((1, 2)) / n2
        )
    return np.concatenate(out)


def factor_contrasts(
    cross: CrossCorrect,
    point: np.ndarray,
    boot: np.ndarray,
    info: pd.DataFrame,
    factors: Sequence[str],
    *,
    order: Sequence[str] | None = None,
    n_permutations: int = 10_000,
    level: float = 0.95,
    baseline: str = "random",
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transfer by factor and ordered contrasts between factors.

    Returns (levels, contrasts).  levels: one row per factor ("only <factor>": pairs that
    differ in it alone) plus "self" (A == B): n_pairs, mean transfer, interval, two-sided
    bootstrap p against 0.  contrasts:
    for consecutive factors of `order` (default `factors`) present in the design, mean
    transfer of the first minus the second, interval, one-sided permutation p (H1: > 0;
    model labels shuffled, attributes kept), `exact` whether every relabelling was used,
    and BH-FDR over the contrasts.
    """
    func = "factor_contrasts"
    n_permutations = check_int(func, "n_permutations", n_permutations, minimum=1)
    rng = check_random_state(func, random_state)
    order = list(factors if order is None else order)
    for f in order:
        check_choice(func, "order", f, factors)
    masks = only_differs(cross.models, info, factors)
    masks["self"] = np.eye(len(cross.models), dtype=bool)
    t_point, t_boot = transfer(cross, point, baseline), transfer(cross, boot, baseline)
    rows = []
    for name in ["self", *factors]:
        draws = _masked_means(t_boot, masks[name])
        low, high = _interval(draws, level)
        rows.append(
            {
                "relation": name if name == "self" else f"only {name}",
                "n_pairs": int(masks[name].sum()),
                "transfer": float(_masked_means(t_point, masks[name])),
                "ci_low": low,
                "ci_high": high,
                "p": _two_sided_bootstrap_p(draws) if masks[name].any() else np.nan,
            }
        )
    levels = pd.DataFrame(rows)
    present = [f for f in order if masks[f].any()]
    perms, exact = _permutations(len(cross.models), n_permutations, rng)
    rows = []
    for first, second in itertools.pairwise(present):
        m1, m2 = masks[first], masks[second]
        observed = float(_masked_means(t_point, m1) - _masked_means(t_point, m2))
        draws = _masked_means(t_boot, m1) - _masked_means(t_boot, m2)
        null = _permutation_stats(t_point, m1, m2, perms)
        hits = int(np.sum(null >= observed - 1e-12))
        p = hits / len(null) if exact else (hits + 1) / (len(null) + 1)
        low, high = _interval(draws, level)
        rows.append(
            {
                "contrast": f"{first} - {second}",
                "first": first,
                "second": second,
                "difference": observed,
                "ci_low": low,
                "ci_high": high,
                "p_permutation": p,
                "n_permutations": len(null),
                "exact": exact,
            }
        )
    columns = ["contrast", "first", "second", "difference", "ci_low", "ci_high"]
    contrasts = pd.DataFrame(rows, columns=[*columns, "p_permutation", "n_permutations", "exact"])
    contrasts["p_fdr"] = fdr_bh(contrasts["p_permutation"].to_numpy(float)) if rows else []
    return levels, contrasts
