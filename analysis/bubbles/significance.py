"""Pixel and cluster tests for smooth classification images (Chauvin et al. 2005).

Both treat the z map as a smooth Gaussian random field over the search region and control the
family-wise error with random field theory (Worsley et al. 1996), using the expected Euler
characteristic of the excursion set:

    P(max z > t) ≈ R0·ρ0(t) + R1·ρ1(t) + R2·ρ2(t)

with resels R0 = 1, R1 = half the region's perimeter / FWHM, R2 = area / FWHM², and the 2-D
densities ρ0 = 1 − Φ(t), ρ1 = sqrt(4 ln 2)/(2π)·e^(−t²/2), ρ2 = 4 ln 2/(2π)^(3/2)·t·e^(−t²/2).
The pixel test finds the t where that is α.  The cluster test thresholds at a lower t and asks
how likely a connected excursion of k pixels is (Friston et al. 1994): with E[m] clusters
expected and E[n] = area·(1 − Φ(t))/E[m] pixels per cluster, P(n ≥ k) = exp(−k/E[n]) and the
chance that any cluster is that large is 1 − exp(−E[m]·P(n ≥ k)).  Positive excursions only:
a classification image asks where visibility helped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage, optimize, stats

from analysis._checks import check_real, fail

_RHO1 = math.sqrt(4 * math.log(2)) / (2 * math.pi)
_RHO2 = 4 * math.log(2) / (2 * math.pi) ** 1.5


@dataclass(frozen=True)
class SignificantRegions:
    """Pixels that pass, the threshold used, and each region's size, peak and (clusters) p."""

    significant: np.ndarray
    threshold: float
    clusters: pd.DataFrame


def _region(z: np.ndarray, search_region: np.ndarray | None, func: str) -> np.ndarray:
    if z.ndim != 2:
        raise fail(func, "z", "a 2-D map", z.shape)
    region = np.isfinite(z)
    if search_region is not None:
        if search_region.shape != z.shape:
            raise fail(
                func, "search_region", f"a boolean map of shape {z.shape}", search_region.shape
            )
        region &= search_region.astype(bool)
    if not region.any():
        raise fail(func, "z", "a map with finite values in the search region", "none")
    return region


def _resels(region: np.ndarray, fwhm: float) -> tuple[float, float, float]:
    """(R0, R1, R2) of a pixel region: Euler characteristic 1, half perimeter and area in resels."""
    padded = np.pad(region, 1)
    perimeter = np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(
        padded[:, 1:] != padded[:, :-1]
    )
    return 1.0, perimeter / 2 / fwhm, np.count_nonzero(region) / fwhm**2


def expected_euler(t: float, resels: tuple[float, float, float]) -> float:
    """Expected Euler characteristic of the excursion set above `t` (≈ P(max > t) when small)."""
    r0, r1, r2 = resels
    decay = math.exp(-t * t / 2)
    return r0 * stats.norm.sf(t) + r1 * _RHO1 * decay + r2 * _RHO2 * t * decay


def pixel_test(
    z: np.ndarray, fwhm: float, *, alpha: float = 0.05, search_region: np.ndarray | None = None
) -> SignificantRegions:
    """Pixels whose z exceeds the random-field threshold for family-wise error `alpha`."""
    check_real("pixel_test", "fwhm", fwhm, low=0, low_open=True)
    check_real("pixel_test", "alpha", alpha, low=0, high=0.5, low_open=True)
    region = _region(z, search_region, "pixel_test")
    resels = _resels(region, fwhm)
    threshold = optimize.brentq(lambda t: expected_euler(t, resels) - alpha, 0.0, 40.0)
    significant = region & (np.nan_to_num(z, nan=-np.inf) > threshold)
    return SignificantRegions(significant, float(threshold), _cluster_table(significant, z, None))


def cluster_test(
    z: np.ndarray,
    fwhm: float,
    *,
    threshold: float = 2.7,
    alpha: float = 0.05,
    search_region: np.ndarray | None = None,
) -> SignificantRegions:
    """Regions above `threshold` whose size is unlikely by chance (family-wise `alpha`)."""
    check_real("cluster_test", "fwhm", fwhm, low=0, low_open=True)
    check_real("cluster_test", "threshold", threshold, low=1.0)
    check_real("cluster_test", "alpha", alpha, low=0, high=0.5, low_open=True)
    region = _region(z, search_region, "cluster_test")
    resels = _resels(region, fwhm)
    expected_clusters = expected_euler(threshold, resels)
    expected_size = np.count_nonzero(region) * stats.norm.sf(threshold) / expected_clusters
    above = region & (np.nan_to_num(z, nan=-np.inf) > threshold)

    def p_value(size: int) -> float:
        return float(-math.expm1(-expected_clusters * math.exp(-size / expected_size)))

    table = _cluster_table(above, z, p_value)
    significant = np.zeros_like(above)
    labels, _ = ndimage.label(above)
    for row in table.itertuples():
        if row.p < alpha:
            significant |= labels == row.cluster
    return SignificantRegions(significant, float(threshold), table)


def _cluster_table(mask: np.ndarray, z: np.ndarray, p_value) -> pd.DataFrame:
    """One row per connected region of `mask`: size, peak z and its position, p when given."""
    labels, count = ndimage.label(mask)
    rows = []
    for cluster in range(1, count + 1):
        inside = labels == cluster
        peak = np.unravel_index(np.argmax(np.where(inside, z, -np.inf)), z.shape)
        size = int(np.count_nonzero(inside))
        row = {"cluster": cluster, "size": size, "peak_z": float(z[peak]), "peak_row": int(peak[0])}
        row["peak_column"] = int(peak[1])
        if p_value is not None:
            row["p"] = p_value(size)
        rows.append(row)
    columns = ["cluster", "size", "peak_z", "peak_row", "peak_column"] + (["p"] if p_value else [])
    return pd.DataFrame(rows, columns=columns)
