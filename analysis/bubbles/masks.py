"""A trial's apertures, reproducible from (seed, count) on the server and in the browser.

The positions come from mulberry32, a 32-bit generator that needs only integer multiplies, so
the runner's JavaScript draws the same positions from the same seed: draw 2i gives aperture
i's row (floor(u·height)), draw 2i + 1 its column.  Each aperture is a Gaussian of standard
deviation `sigma` pixels, cut off beyond `radius` = ceil(3 sigma) along each axis; apertures add
and the sum is clipped at 1 (Gosselin & Schyns 2001), so 1 shows the face and 0 the background.

A Gaussian is the product of a row and a column profile, so a trial's sum of apertures is one
matrix product, (height × count) @ (count × width), and a block of trials is one batched product:
no Python loop over apertures or trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from analysis._checks import check_int, check_real, fail

_SEED_LIMIT = 2**32 - 1


def _mulberry32(seeds: np.ndarray, n_draws: int) -> np.ndarray:
    """(len(seeds), n_draws) floats in [0, 1): mulberry32 run from each seed, all seeds at once."""
    state = seeds.astype(np.uint32)
    draws = np.empty((len(state), n_draws))
    with np.errstate(over="ignore"):
        for i in range(n_draws):
            state = state + np.uint32(0x6D2B79F5)
            t = (state ^ (state >> np.uint32(15))) * (state | np.uint32(1))
            t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
            draws[:, i] = (t ^ (t >> np.uint32(14))) / 4294967296.0
    return draws


def _check_trials(func: str, seeds, counts) -> tuple[np.ndarray, np.ndarray]:
    seeds, counts = np.asarray(seeds), np.asarray(counts)
    if seeds.ndim != 1 or seeds.shape != counts.shape:
        raise fail(func, "counts", f"one count per seed ({seeds.shape})", counts.shape)
    if seeds.size and not (np.issubdtype(seeds.dtype, np.integer) and seeds.min() >= 0):
        raise fail(func, "seeds", f"integers in [0, {_SEED_LIMIT}]", seeds[:5])
    if seeds.size and seeds.max() > _SEED_LIMIT:
        raise fail(func, "seeds", f"integers in [0, {_SEED_LIMIT}]", seeds.max())
    if counts.size and not (np.issubdtype(counts.dtype, np.integer) and counts.min() >= 0):
        raise fail(func, "counts", "non-negative integers", counts[:5])
    return seeds, counts.astype(np.int64)


def centres_of_trials(seeds, counts, height: int, width: int) -> np.ndarray:
    """(trials, max count, 2) integer (row, column) centres; -1 beyond each trial's count."""
    seeds, counts = _check_trials("centres_of_trials", seeds, counts)
    check_int("centres_of_trials", "height", height, minimum=1)
    check_int("centres_of_trials", "width", width, minimum=1)
    most = int(counts.max(initial=0))
    draws = _mulberry32(seeds, 2 * most).reshape(len(seeds), most, 2)
    centres = np.floor(draws * np.array([height, width])).astype(np.int64)
    centres[np.arange(most)[None, :] >= counts[:, None]] = -1
    return centres


def bubble_centres(seed: int, count: int, height: int, width: int) -> np.ndarray:
    """(count, 2) integer (row, column) centres of one trial."""
    check_int("bubble_centres", "seed", seed, minimum=0, maximum=_SEED_LIMIT)
    check_int("bubble_centres", "count", count, minimum=0)
    return centres_of_trials([seed], [count], height, width)[0]


@dataclass(frozen=True)
class BubblesDesign:
    """Image size and aperture size of a Bubbles study (pixels)."""

    height: int
    width: int
    sigma: float

    def __post_init__(self):
        check_int("BubblesDesign", "height", self.height, minimum=1)
        check_int("BubblesDesign", "width", self.width, minimum=1)
        check_real("BubblesDesign", "sigma", self.sigma, low=0.5)
        if self.sigma > max(self.height, self.width):
            raise fail("BubblesDesign", "sigma", "at most the image size", self.sigma)

    @property
    def radius(self) -> int:
        return math.ceil(3 * self.sigma)

    @cached_property
    def profile(self) -> np.ndarray:
        """exp(-d²/2σ²) at offsets d = -(r+1) .. r+1, zero at both ends (beyond the cut-off)."""
        offsets = np.arange(-self.radius - 1, self.radius + 2, dtype=np.float64)
        values = np.exp(-(offsets**2) / (2 * self.sigma**2))
        values[[0, -1]] = 0.0
        return values

    def masks(self, seeds: Sequence[int], counts: Sequence[int]) -> np.ndarray:
        """(trials, height, width) float32 visibility of a block of trials."""
        centres = centres_of_trials(seeds, counts, self.height, self.width)
        rows = self._profiles(centres[..., 0], self.height)  # (trials, count, height)
        columns = self._profiles(centres[..., 1], self.width)  # (trials, count, width)
        summed = np.matmul(rows.transpose(0, 2, 1), columns)
        return np.minimum(summed, np.float32(1))

    def mask(self, seed: int, count: int) -> np.ndarray:
        """The (height, width) float32 visibility of one trial."""
        check_int("BubblesDesign.mask", "seed", seed, minimum=0, maximum=_SEED_LIMIT)
        check_int("BubblesDesign.mask", "count", count, minimum=0)
        return self.masks([seed], [count])[0]

    def _profiles(self, positions: np.ndarray, length: int) -> np.ndarray:
        """Each aperture's profile along one axis; unused apertures (-1) are all zero."""
        r = self.radius
        offsets = np.arange(length)[None, None, :] - positions[..., None]
        index = np.clip(offsets, -r - 1, r + 1) + r + 1
        values = self.profile.astype(np.float32)[index]
        values[positions < 0] = 0.0
        return values
