"""`correlate`: any comparison statistic between weighted rows, by name."""

from __future__ import annotations

import numpy as np

from analysis.kernels.pearson import paired_stat
from analysis.kernels.ranks import weighted_ranks
from analysis.kernels.tau import tau_a_rows

RANK_METHODS = ("spearman", "rho-a", "tau-a")
METHODS = ("pearson", "spearman", "rho-a", "tau-a")


def correlate(method: str, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The comparison statistic between rows of `x` and `y` (broadcast, last axis = pairs).

    `w` are non-negative weights (0 = excluded, e.g. a missing pair) that broadcast with x and
    y; NaN in x or y must carry weight 0.  Ranks are taken over the entries with weight > 0, as
    rsatoolbox does after dropping NaN pairs.  Returns NaN where fewer than 2 entries count or a
    side is constant (pearson, spearman).
    """
    x, y, w = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(w, float))
    if method == "tau-a":
        return tau_a_rows(x, y, w)
    if method in ("spearman", "rho-a"):
        x = weighted_ranks(x, w)
        y = weighted_ranks(y, w)
    return paired_stat(method, x, y, w)
