"""Reliability of the human similarity matrix.

* Split-half over participants: many random splits into two halves, pool each half, correlate
  the two half matrices over the pairs both have, and step the correlation up to the full
  sample with Spearman-Brown ``2r / (1 + r)``.  The whole distribution is returned.
* Majority-agreement ceiling for choice data: over triplets answered at least twice (repeats
  within or across participants), the share of responses that agree with the triplet's most
  frequent answer (Hebart et al. 2020, THINGS: the ceiling for predicting odd-one-out choices
  comes from repeated triplets).  With few responses per triplet the majority is fitted to the
  very responses it is scored on, so this overestimates the best achievable accuracy (two
  disagreeing responses still score 1/2); the leave-one-response-out agreement -- each
  response predicted by the majority of the *other* responses to its triplet, ties split --
  underestimates it.  The two form a band, as the leave-one-participant-out and
  all-participants bounds do for the per-pair ceilings (Nili et al. 2014), and, unlike those,
  it stays defined in sparse designs where participants share few pairs.
* Leave-one-participant-out / all-participants noise ceilings for model comparison are in
  `analysis.compare.noise_ceiling`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_int, check_random_state, fail
from analysis.kernels import METHODS, correlate
from analysis.matrices import ParticipantMatrices


def spearman_brown(r: np.ndarray | float, factor: float = 2.0) -> np.ndarray | float:
    """Reliability of a test `factor` times longer: k r / (1 + (k - 1) r).

    Undefined (NaN) at the pole r = -1 / (k - 1), e.g. a split-half correlation of exactly -1
    (two halves of two participants with two shared pairs can give it), not -inf."""
    r = np.asarray(r, dtype=float)
    denominator = 1 + (factor - 1) * r
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denominator == 0, np.nan, factor * r / denominator)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class SplitHalf:
    """Split-half correlations and their Spearman-Brown corrected values, one per split."""

    method: str
    correlations: np.ndarray
    reliabilities: np.ndarray
    n_participants: int
    random_state: int | None

    def summary(self) -> dict:
        rel = self.reliabilities[~np.isnan(self.reliabilities)]
        raw = self.correlations[~np.isnan(self.correlations)]
        if rel.size == 0:
            return {"method": self.method, "n_splits": 0}
        return {
            "method": self.method,
            "n_splits": int(rel.size),
            "split_half_r_mean": float(raw.mean()),
            "reliability_mean": float(rel.mean()),
            "reliability_median": float(np.median(rel)),
            "reliability_p2.5": float(np.percentile(rel, 2.5)),
            "reliability_p97.5": float(np.percentile(rel, 97.5)),
            "reliability_sd": float(rel.std(ddof=1)) if rel.size > 1 else float("nan"),
        }


def split_half(
    human: ParticipantMatrices,
    method: str = "spearman",
    *,
    n_splits: int = 100,
    random_state: int | None = None,
    splits: np.ndarray | None = None,
) -> SplitHalf:
    """Split-half reliability over participants (see module docstring).

    Each split is a seeded random permutation; the first floor(n/2) participants form one
    half.  Halves are pooled as the group matrix is (`ParticipantMatrices.pooling`).  Fixed
    splits can be given as `splits`, a boolean (n_splits, n_participants) array marking the
    first half (then `n_splits` and `random_state` are not used).
    """
    func = "split_half"
    check_choice(func, "method", method, METHODS)
    n = human.n_participants
    if n < 2:
        raise fail(func, "human", "at least 2 participants", n)
    if splits is None:
        n_splits = check_int(func, "n_splits", n_splits, minimum=1)
        rng = check_random_state(func, random_state)
        perms = np.argsort(rng.random((n_splits, n)), axis=1)
        first = np.zeros((n_splits, n))
        np.put_along_axis(first, perms[:, : n // 2], 1.0, axis=1)
    else:
        first = np.asarray(splits)
        if first.ndim != 2 or first.shape[1] != n or first.dtype != bool:
            raise fail(func, "splits", f"a boolean array (n_splits, {n})", first.shape)
        first = first.astype(float)
        n_splits = len(first)
    weights = np.concatenate([first, 1.0 - first])
    # a pair fewer than two participants judged is missing from a half of every split: left
    # out (most pairs of a sparse design), the statistic is the same
    shared = np.flatnonzero(np.bincount(human.pair_index, minlength=human.n_pairs) >= 2)
    if shared.size == 0:  # no pair in both halves of any split: no correlation
        r = np.full(n_splits, np.nan)
        return SplitHalf(method, r, spearman_brown(r), n, random_state)
    pooled, _ = human.dissimilarity().group_vectors(weights, shared)
    a, b = pooled[:n_splits], pooled[n_splits:]
    both = ~np.isnan(a) & ~np.isnan(b)
    r = correlate(method, np.nan_to_num(a), np.nan_to_num(b), both.astype(float))
    return SplitHalf(method, r, spearman_brown(r), n, random_state)


@dataclass(frozen=True)
class MajorityCeiling:
    """Majority-agreement ceiling on repeated choice trials.

    accuracy: agreement with the majority answer, the upper bound; lower: leave-one-response-
    out agreement, the lower bound; each with a 95 % bootstrap interval over triplets.
    """

    accuracy: float
    ci_low: float
    ci_high: float
    lower: float
    lower_ci_low: float
    lower_ci_high: float
    n_triplets: int
    n_responses: int
    triplets: pd.DataFrame  # a, b, c (sorted codes), trial_type, n, n_majority, n_loo_correct

    def as_dict(self) -> dict:
        return {
            "majority_ceiling": self.accuracy,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "majority_ceiling_lower": self.lower,
            "lower_ci_low": self.lower_ci_low,
            "lower_ci_high": self.lower_ci_high,
            "n_triplets": self.n_triplets,
            "n_responses": self.n_responses,
        }


def _triplet_keys(table: pd.DataFrame) -> pd.DataFrame:
    """Unordered triplet identity (2AFC: reference first, then sorted candidates) + answer."""
    i, j, odd = (table[c].to_numpy(np.int64) for c in ("i", "j", "odd"))
    afc = table["trial_type"].to_numpy() == "afc"
    trip = np.sort(np.stack([i, j, odd], 1), axis=1)
    cand = np.sort(np.stack([j, odd], 1), axis=1)
    key = np.where(afc[:, None], np.column_stack([i, cand]), trip)
    return pd.DataFrame(
        {
            "a": key[:, 0],
            "b": key[:, 1],
            "c": key[:, 2],
            "trial_type": table["trial_type"].to_numpy(),
            "answer": odd,
        }
    )


def repeated_triplets(table: pd.DataFrame, min_responses: int = 2) -> int:
    """How many triplets of a `choice_table` were answered at least `min_responses` times."""
    sizes = _triplet_keys(table).groupby(["a", "b", "c", "trial_type"]).size()
    return int((sizes >= min_responses).sum())


def majority_ceiling(
    table: pd.DataFrame,
    *,
    min_responses: int = 2,
    n_boot: int = 1000,
    random_state: int | None = None,
) -> MajorityCeiling:
    """Majority-agreement ceiling from a `choice_table` that includes repeated trials.

    Build the table with ``roles=("main", "repeat")`` so within-participant repeats count;
    triplets shown to several participants count too.  Returns the majority agreement (upper
    bound) and the leave-one-response-out agreement (lower bound, see the module docstring);
    the CIs resample triplets.
    """
    func = "majority_ceiling"
    min_responses = check_int(func, "min_responses", min_responses, minimum=2)
    n_boot = check_int(func, "n_boot", n_boot, minimum=1)
    keys = _triplet_keys(table)
    counts = keys.groupby(["a", "b", "c", "trial_type", "answer"]).size().rename("k").reset_index()
    per = counts.groupby(["a", "b", "c", "trial_type"])["k"].agg(n="sum", n_majority="max")
    per["n_loo_correct"] = _leave_one_out_correct(counts)
    per = per[per["n"] >= min_responses].reset_index()
    if per.empty:
        raise fail(func, "table", f"triplets answered at least {min_responses} times", 0)
    n = per["n"].to_numpy(float)
    rng = check_random_state(func, random_state)
    draws = rng.integers(0, len(per), size=(n_boot, len(per)))
    bounds = []
    for column in ("n_majority", "n_loo_correct"):
        hits = per[column].to_numpy(float)
        boot = hits[draws].sum(1) / n[draws].sum(1)
        bounds += [hits.sum() / n.sum(), np.percentile(boot, 2.5), np.percentile(boot, 97.5)]
    return MajorityCeiling(*map(float, bounds), len(per), int(n.sum()), per)


def _leave_one_out_correct(counts: pd.DataFrame) -> np.ndarray:
    """Per triplet (in groupby order): how many responses the majority of the triplet's other
    responses predicts, ties split.  `counts` has one row per (triplet, answer) with count k.
    A triplet has at most 3 answers, so the counts fit a (triplets, 3) array."""
    group = counts.groupby(["a", "b", "c", "trial_type"], sort=True)
    slot = group.cumcount().to_numpy()
    k = np.zeros((group.ngroups, 3))
    k[group.ngroup().to_numpy(), slot] = counts["k"].to_numpy()
    correct = np.zeros(group.ngroups)
    for answer in range(3):
        others = k.copy()
        others[:, answer] -= 1  # one response with this answer left out
        best = others.max(1, keepdims=True)
        tied = others == best  # empty slots (count 0) never tie: >= 2 responses, best >= 1
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(k[:, answer] > 0, tied[:, answer] / tied.sum(1), 0.0)
        correct += k[:, answer] * share
    return correct
