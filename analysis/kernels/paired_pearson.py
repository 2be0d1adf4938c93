"""Weighted Pearson of paired rows, compiled (numba): the cell engine's Pearson ceilings.

`paired_stat` makes about fifteen arrays the size of its rows (masks, centred copies,
products); here each row pair is read twice (sums, then centred sums) and nothing is made.
The sums run in another order, so the values equal `paired_stat`'s to rounding
(``tests/unit/analysis/test_weighted.py``).  numba because the loop needs compiled code and the
project ships no C; ``nogil`` lets the dual bootstraps run on threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _paired_pearson(x, y, w, out):
    for r in range(x.shape[0]):
        total = sum_x = sum_y = 0.0
        for k in range(x.shape[1]):
            if w[r, k] > 0:
                total += w[r, k]
                sum_x += w[r, k] * x[r, k]
                sum_y += w[r, k] * y[r, k]
        if total < 2:
            out[r] = math.nan
            continue
        mean_x, mean_y = sum_x / total, sum_y / total
        cov = var_x = var_y = 0.0
        for k in range(x.shape[1]):
            if w[r, k] > 0:
                dx, dy = x[r, k] - mean_x, y[r, k] - mean_y
                cov += w[r, k] * dx * dy
                var_x += w[r, k] * dx * dx
                var_y += w[r, k] * dy * dy
        out[r] = cov / math.sqrt(var_x * var_y)


def paired_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`paired_stat("pearson", x, y, w)` for arrays of one shape (..., L): the weighted
    Pearson of each pair of rows over the entries with w > 0 (what the others hold is not
    read); NaN below a total weight of 2 or without variance."""
    shape = np.broadcast_shapes(x.shape, y.shape, w.shape)
    rows = [
        np.ascontiguousarray(np.broadcast_to(a, shape), dtype=float).reshape(-1, shape[-1])
        for a in (x, y, w)
    ]
    out = np.empty(len(rows[0]))
    _paired_pearson(*rows, out)
    return out.reshape(shape[:-1])
