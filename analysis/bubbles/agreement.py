"""Agreement between two maps of the same image (a classification image, a relevance map).

`map_agreement` gives Spearman's rho over pixels and the IoU of the two top-k pixel sets (k =
floor(fraction·pixels + 0.5), ties broken by pixel index, as modelsvc's masking selects them).
`bootstrap_agreement` resamples a group's participants to give the agreement of the group's
map with another map an interval, next to the group map's split-half reliability (the ceiling:
no map can agree with the group map better than the group map agrees with itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from analysis._checks import check_int, check_random_state, check_real, fail
from analysis.bubbles.classification_image import (
    ClassificationImageAccumulator,
    split_half_reliability,
)


def _top_set(values: np.ndarray, count: int) -> np.ndarray:
    order = np.argsort(-values, kind="stable")  # ties: the lower pixel index first
    return order[:count]


def map_agreement(a: np.ndarray, b: np.ndarray, *, top_fraction: float = 0.1) -> dict:
    """Spearman rho and top-`top_fraction` IoU of two maps over the pixels finite in both."""
    check_real("map_agreement", "top_fraction", top_fraction, low=0, high=1, low_open=True)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2:
        raise fail("map_agreement", "b", f"a 2-D map of the shape of 'a' {a.shape}", b.shape)
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 3:
        raise fail(
            "map_agreement", "a", "maps with at least 3 pixels finite in both", int(both.sum())
        )
    first, second = a[both], b[both]
    count = max(1, int(np.floor(top_fraction * first.size + 0.5)))
    top_a, top_b = set(_top_set(first, count)), set(_top_set(second, count))
    rho = stats.spearmanr(first, second).statistic
    return {"spearman": float(rho), "top_iou": len(top_a & top_b) / len(top_a | top_b)}


def bootstrap_agreement(
    participants: Sequence[ClassificationImageAccumulator],
    other: np.ndarray,
    *,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state=None,
) -> dict:
    """The group z map's agreement with `other`, with percentile intervals over participants.

    Returns per statistic (spearman, top_iou) the estimate and its interval, and the group
    map's split-half reliability (Spearman-Brown corrected Pearson over pixels) as `ceiling`.
    """
    found = bootstrap_agreements(
        participants,
        {"other": other},
        top_fraction=top_fraction,
        n_boot=n_boot,
        ci=ci,
        random_state=random_state,
    )
    return found["other"]


def bootstrap_agreements(
    participants: Sequence[ClassificationImageAccumulator],
    others: Mapping[str, np.ndarray],
    *,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state=None,
) -> dict[str, dict]:
    """`bootstrap_agreement` for several maps at once: {name: its result}.

    Every map is compared with the same resampled group maps (one pooled map per draw, the
    costly part, instead of one per draw and map), and the ceiling is computed once.
    """
    check_int("bootstrap_agreement", "n_boot", n_boot, minimum=1)
    check_real("bootstrap_agreement", "ci", ci, low=0, high=1, low_open=True, high_open=True)
    if len(participants) < 2:
        raise fail(
            "bootstrap_agreement", "participants", "at least 2 accumulators", len(participants)
        )
    rng = check_random_state("bootstrap_agreement", random_state)
    group = _pooled(participants, np.ones(len(participants)))
    estimates = {
        name: map_agreement(group, other, top_fraction=top_fraction)
        for name, other in others.items()
    }
    prepared = {name: _Ranked(other, top_fraction) for name, other in others.items()}
    draws = {
        name: {statistic: np.empty(n_boot) for statistic in found}
        for name, found in estimates.items()
    }
    for draw in range(n_boot):
        weights = np.bincount(
            rng.integers(0, len(participants), len(participants)), minlength=len(participants)
        )
        pooled = _Ranked(_pooled(participants, weights), top_fraction)
        for name, other in prepared.items():
            agreement = pooled.agreement(other)
            for statistic, value in agreement.items():
                draws[name][statistic][draw] = value
    tail = (1 - ci) / 2 * 100
    ceiling = split_half_reliability(participants, n_splits=100, random_state=rng)["reliability"]
    return {
        name: {
            statistic: {
                "estimate": estimates[name][statistic],
                "ci_low": float(np.percentile(values, tail)),
                "ci_high": float(np.percentile(values, 100 - tail)),
            }
            for statistic, values in found.items()
        }
        | {"ceiling": ceiling}
        for name, found in draws.items()
    }


class _Ranked:
    """A map's standardised ranks and top set, so that `map_agreement` of two finite maps is a
    dot product and a set overlap (the bootstrap compares every draw with every map)."""

    def __init__(self, values: np.ndarray, top_fraction: float):
        self.values = np.asarray(values, dtype=float)
        self.top_fraction = top_fraction
        flat = self.values.ravel()
        self.finite = bool(np.isfinite(flat).all())
        if self.finite:
            ranks = stats.rankdata(flat)  # average ranks of ties, as spearmanr
            ranks -= ranks.mean()
            self.ranks = ranks / np.linalg.norm(ranks)
            self.top = np.zeros(flat.size, dtype=bool)
            count = max(1, int(np.floor(top_fraction * flat.size + 0.5)))
            self.top[_top_set(flat, count)] = True

    def agreement(self, other: _Ranked) -> dict:
        """`map_agreement(self.values, other.values)`; the general route where one has NaNs."""
        if not (self.finite and other.finite):
            return map_agreement(self.values, other.values, top_fraction=self.top_fraction)
        overlap = np.count_nonzero(self.top & other.top)
        union = np.count_nonzero(self.top | other.top)
        return {"spearman": float(self.ranks @ other.ranks), "top_iou": overlap / union}


def _pooled(
    participants: Sequence[ClassificationImageAccumulator], weights: np.ndarray
) -> np.ndarray:
    """The z map of the participants counted `weights` times each."""
    return ClassificationImageAccumulator.combine(participants, weights).image().z
