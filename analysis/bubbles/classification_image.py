"""Classification images: where seeing the face made answers correct.

Trials are streamed into running sums (no mask is kept), so 30,000 trials at 128 px cost a few
image-sized arrays.  Per pixel, the visibility over trials is regressed on the answer's
correctness and on the trial's overall visibility (the mask's mean over the image):

    visibility = a + b·correct + c·overall + noise

The classification image is b, the z map is b over its standard error.  The second regressor
matters whenever the number of apertures varies: a staircase shows more apertures after errors,
and more apertures make any answer likelier to be right, which without it lights up the whole
image.  With a fixed count and no overlap, b is the mean visibility of correct minus that of
incorrect trials.  All trials share the design matrix, so the sums Σm, Σm·correct, Σm·overall
and Σm² per pixel are all that is kept.

The pixel and cluster tests (`significance`) need the z map's smoothness (FWHM).  It is that of
the standardized residuals of the regression, estimated as random-field software does (Kiebel et
al. 1999): FWHM = sqrt(4·ln 2 / Λ), Λ the mean over neighbouring pixels p, q of 2·(1 − ρ(p, q)),
ρ the correlation of their residuals over trials.  The residual sums follow from the same sums
plus Σ m_p·m_q for neighbours, so this costs no second pass.  Neither one aperture's
2·sqrt(2·ln 2)·sigma nor the raw masks' smoothness will do: clipping makes the masks rougher (at
80 apertures of sigma 4 on 64 px: 6.3 px instead of 9.4), and removing the overall visibility
removes their smoothest part (measured on null data: raw masks 9.1 px, z maps 8.3-8.6 px).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis._checks import check_int, check_random_state, fail
from analysis.bubbles.masks import BubblesDesign

_SUMS = (
    "sum_mask",
    "sum_mask_correct",
    "sum_mask_overall",
    "sum_squares",
    "sum_row_products",
    "sum_column_products",
    "design_sums",
)


@dataclass(frozen=True)
class ClassificationImage:
    """Correctness coefficient per pixel, its z-scores (NaN where visibility never varied)."""

    difference: np.ndarray
    z: np.ndarray
    n_correct: int
    n_incorrect: int
    fwhm: float


class ClassificationImageAccumulator:
    """Running sums of visibility over trials; accumulators of the same design add up."""

    def __init__(self, design: BubblesDesign):
        self.design = design
        shape = (design.height, design.width)
        self.sum_mask = np.zeros(shape)
        self.sum_mask_correct = np.zeros(shape)
        self.sum_mask_overall = np.zeros(shape)
        self.sum_squares = np.zeros(shape)
        self.sum_row_products = np.zeros((design.height - 1, design.width))  # Σ m[i, j]·m[i+1, j]
        self.sum_column_products = np.zeros((design.height, design.width - 1))
        self.design_sums = np.zeros((3, 3))  # X'X for X = [1, correct, overall]

    @property
    def n_trials(self) -> int:
        return round(self.design_sums[0, 0])

    @property
    def n_correct(self) -> int:
        return round(self.design_sums[0, 1])

    def add_mask(self, mask: np.ndarray, correct: bool) -> None:
        """Add one trial given its visibility mask."""
        self.add_masks(mask[None], np.array([correct]))

    def add_masks(self, masks: np.ndarray, correct: np.ndarray) -> None:
        """Add a block of trials: (trials, height, width) masks and their correctness."""
        shape = self.sum_mask.shape
        if masks.ndim != 3 or masks.shape[1:] != shape:
            raise fail("add_masks", "masks", f"an array of shape (trials, *{shape})", masks.shape)
        if len(correct) != len(masks):
            raise fail("add_masks", "correct", f"{len(masks)} values", len(correct))
        flat = masks.reshape(len(masks), -1).astype(np.float64)  # sums to float64 precision
        regressors = np.column_stack(
            [
                np.ones(len(masks)),
                np.asarray(correct, dtype=bool),
                flat.mean(axis=1),
            ]
        )
        crossed = (regressors.T @ flat).reshape(3, *shape)
        self.sum_mask += crossed[0]
        self.sum_mask_correct += crossed[1]
        self.sum_mask_overall += crossed[2]
        self.sum_squares += np.einsum("tp,tp->p", flat, flat).reshape(shape)
        cube = flat.reshape(masks.shape)
        self.sum_row_products += np.einsum("tij,tij->ij", cube[:, 1:], cube[:, :-1])
        self.sum_column_products += np.einsum("tij,tij->ij", cube[:, :, 1:], cube[:, :, :-1])
        self.design_sums += regressors.T @ regressors

    def add_trials(self, seeds, counts, correct, block: int = 256):
        """Add trials given the seed and count each was shown with, `block` masks at a time."""
        seeds, counts, correct = np.asarray(seeds), np.asarray(counts), np.asarray(correct)
        for start in range(0, len(seeds), block):
            part = slice(start, start + block)
            self.add_masks(self.design.masks(seeds[part], counts[part]), correct[part])
        return self

    def __add__(self, other: ClassificationImageAccumulator) -> ClassificationImageAccumulator:
        return ClassificationImageAccumulator.combine([self, other])

    @classmethod
    def combine(cls, accumulators: Sequence[ClassificationImageAccumulator], weights=None):
        """All trials of `accumulators`, each accumulator counted `weights` times (default once)."""
        design = accumulators[0].design
        if any(other.design != design for other in accumulators):
            raise fail(
                "ClassificationImageAccumulator.combine", "accumulators", "one design", design
            )
        weights = np.ones(len(accumulators)) if weights is None else np.asarray(weights)
        total = cls(design)
        for name in _SUMS:
            parts = [w * getattr(a, name) for w, a in zip(weights, accumulators, strict=True) if w]
            setattr(total, name, sum(parts, getattr(total, name)))
        return total

    def image(self) -> ClassificationImage:
        """The classification image so far (needs correct and incorrect trials)."""
        n_incorrect = self.n_trials - self.n_correct
        if self.n_correct == 0 or n_incorrect == 0:
            raise ValueError(
                "A classification image needs correct and incorrect trials; got "
                f"{self.n_correct} correct and {n_incorrect} incorrect."
            )
        gram, _, inverse, coefficients, residual = self._fit()
        degrees = self.n_trials - len(gram)
        if degrees < 1:
            raise ValueError(f"A classification image needs more trials; got {self.n_trials}.")
        standard_error = np.sqrt(residual / degrees * inverse[1, 1])
        difference = coefficients[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(standard_error > 1e-12, difference / standard_error, np.nan)
        return ClassificationImage(difference, z, self.n_correct, n_incorrect, self.smoothness())

    def _fit(self):
        """Per-pixel least squares: X'X, X'm, (X'X)^-1, coefficients, residual sums of squares."""
        gram = self.design_sums
        crossed = np.stack([self.sum_mask, self.sum_mask_correct, self.sum_mask_overall])
        overall_variance = gram[2, 2] / gram[0, 0] - (gram[0, 2] / gram[0, 0]) ** 2
        if overall_variance <= 1e-12 * max(gram[2, 2] / gram[0, 0], 1e-300):
            gram, crossed = gram[:2, :2], crossed[:2]  # overall visibility never varied
        inverse = np.linalg.inv(gram)
        coefficients = np.tensordot(inverse, crossed, axes=1)
        residual = np.maximum(self.sum_squares - np.sum(coefficients * crossed, axis=0), 0.0)
        return gram, crossed, inverse, coefficients, residual

    def smoothness(self) -> float:
        """FWHM in pixels of the standardized residuals (see the module docstring)."""
        gram, crossed, _, coefficients, residual = self._fit()
        steps = []
        for axis, products in ((0, self.sum_row_products), (1, self.sum_column_products)):
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis + 1], behind[axis + 1] = slice(1, None), slice(None, -1)
            beta_a, beta_b = coefficients[tuple(ahead)], coefficients[tuple(behind)]
            cross_a, cross_b = crossed[tuple(ahead)], crossed[tuple(behind)]
            covariance = (
                products
                - np.sum(beta_a * cross_b, axis=0)
                - np.sum(beta_b * cross_a, axis=0)
                + np.einsum("ipq,ij,jpq->pq", beta_a, gram, beta_b)
            )
            scale = np.sqrt(residual[tuple(ahead[1:])] * residual[tuple(behind[1:])])
            varied = scale > 1e-12
            steps.append(2 * (1 - covariance[varied] / scale[varied]))
        mean_step = float(np.mean(np.concatenate(steps))) if any(len(x) for x in steps) else 0.0
        if not mean_step > 0:
            raise ValueError("The masks did not vary over trials: no smoothness can be estimated.")
        return float(math.sqrt(4 * math.log(2) / mean_step))


def split_half_reliability(
    participants: Sequence[ClassificationImageAccumulator],
    *,
    n_splits: int = 100,
    random_state=None,
) -> dict:
    """Split-half reliability of a group's z map over random halves of the participants.

    Returns the mean Pearson correlation of the two halves' z maps over pixels (`split_half`),
    its Spearman-Brown correction to the full group (`reliability`, the ceiling for any
    comparison of the group map with another map) and the per-split correlations.
    """
    check_int("split_half_reliability", "n_splits", n_splits, minimum=1)
    if len(participants) < 2:
        raise fail(
            "split_half_reliability", "participants", "at least 2 accumulators", len(participants)
        )
    rng = check_random_state("split_half_reliability", random_state)
    correlations = np.empty(n_splits)
    for split in range(n_splits):
        order = rng.permutation(len(participants))
        halves = order[: len(order) // 2], order[len(order) // 2 :]
        maps = [
            ClassificationImageAccumulator.combine([participants[i] for i in half]).image().z
            for half in halves
        ]
        both = np.isfinite(maps[0]) & np.isfinite(maps[1])
        correlations[split] = np.corrcoef(maps[0][both], maps[1][both])[0, 1]
    mean = float(np.mean(correlations))
    return {
        "split_half": mean,
        "reliability": 2 * mean / (1 + mean) if mean > -1 else float("nan"),
        "correlations": correlations,
    }
