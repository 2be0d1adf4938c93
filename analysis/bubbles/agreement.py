"""Agreement between two maps of the same image (a classification image, a relevance map).

`map_agreement` gives Spearman's rho over pixels and the IoU of the two top-k pixel sets (k =
floor(fraction·pixels + 0.5), ties broken by pixel index, as modelsvc's masking selects them).
`bootstrap_agreement` resamples a group's participants to give the agreement of the group's
map with another map an interval, next to the group map's split-half reliability (the ceiling:
no map can agree with the group map better than the group map agrees with itself).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    check_int("bootstrap_agreement", "n_boot", n_boot, minimum=1)
    check_real("bootstrap_agreement", "ci", ci, low=0, high=1, low_open=True, high_open=True)
    if len(participants) < 2:
        raise fail(
            "bootstrap_agreement", "participants", "at least 2 accumulators", len(participants)
        )
    rng = check_random_state("bootstrap_agreement", random_state)
    estimate = map_agreement(
        _pooled(participants, np.ones(len(participants))), other, top_fraction=top_fraction
    )
    draws = {name: np.empty(n_boot) for name in estimate}
    for draw in range(n_boot):
        weights = np.bincount(
            rng.integers(0, len(participants), len(participants)), minlength=len(participants)
        )
        agreement = map_agreement(_pooled(participants, weights), other, top_fraction=top_fraction)
        for name, value in agreement.items():
            draws[name][draw] = value
    tail = (1 - ci) / 2 * 100
    result = {
        name: {
            "estimate": estimate[name],
            "ci_low": float(np.percentile(values, tail)),
            "ci_high": float(np.percentile(values, 100 - tail)),
        }
        for name, values in draws.items()
    }
    result["ceiling"] = split_half_reliability(participants, n_splits=100, random_state=rng)[
        "reliability"
    ]
    return result


def _pooled(
    participants: Sequence[ClassificationImageAccumulator], weights: np.ndarray
) -> np.ndarray:
    """The z map of the participants counted `weights` times each."""
    return ClassificationImageAccumulator.combine(participants, weights).image().z
