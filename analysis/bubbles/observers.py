"""Simulated Bubbles observers whose diagnostic region is known (for tests, demos, benchmarks).

An observer answers correctly with probability 0.5 + 0.5·(1 − lapse)·W(info), where `info` is
the share of its diagnostic weight that the apertures reveal and W(x) = 1 − exp(−(x/θ)^β) is a
Weibull psychometric function; without weights it guesses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state, check_real, fail
from analysis.bubbles.masks import BubblesDesign
from analysis.bubbles.staircase import WeightedUpDown


@dataclass(frozen=True)
class DiagnosticObserver:
    """An observer who uses only the pixels in `weights` (None: one who guesses)."""

    weights: np.ndarray | None
    threshold: float = 0.1
    slope: float = 2.0
    lapse: float = 0.02

    def __post_init__(self):
        check_real("DiagnosticObserver", "threshold", self.threshold, low=0, low_open=True)
        check_real("DiagnosticObserver", "slope", self.slope, low=0, low_open=True)
        check_real("DiagnosticObserver", "lapse", self.lapse, low=0, high=1)
        if self.weights is not None and not np.sum(self.weights) > 0:
            raise fail("DiagnosticObserver", "weights", "a map with positive total weight", "none")

    def p_correct(self, mask: np.ndarray) -> float:
        if self.weights is None:
            return 0.5
        info = float(np.sum(mask * self.weights) / np.sum(self.weights))
        seen = 1 - np.exp(-((info / self.threshold) ** self.slope))
        return 0.5 + 0.5 * (1 - self.lapse) * seen


def disc_weights(
    design: BubblesDesign, centres: list[tuple[float, float]], radius: float
) -> np.ndarray:
    """A weight map that is 1 inside discs of `radius` pixels at (row, column) `centres`."""
    rows, columns = np.mgrid[: design.height, : design.width]
    weights = np.zeros((design.height, design.width))
    for row, column in centres:
        weights[(rows - row) ** 2 + (columns - column) ** 2 <= radius**2] = 1.0
    return weights


def simulate_observer(
    design: BubblesDesign,
    observer: DiagnosticObserver,
    n_trials: int,
    *,
    staircase: WeightedUpDown | None = None,
    count: int = 30,
    random_state=None,
) -> pd.DataFrame:
    """One participant's trials: seed, count (from the staircase if given), p_correct, correct."""
    check_int("simulate_observer", "n_trials", n_trials, minimum=1)
    rng = check_random_state("simulate_observer", random_state)
    rows = []
    for _ in range(n_trials):
        shown = staircase.count if staircase is not None else count
        seed = int(rng.integers(0, 2**32))
        p = observer.p_correct(design.mask(seed, shown))
        correct = bool(rng.random() < p)
        if staircase is not None:
            staircase.update(correct)
        rows.append({"seed": seed, "count": shown, "p_correct": p, "correct": correct})
    return pd.DataFrame(rows)
