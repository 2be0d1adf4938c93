"""Integer codes of rows in the order of their values."""

from __future__ import annotations

import numpy as np


def dense_codes(values: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: integer codes 0, 1, ... in the order of the values (ties share a code) and
    the number of codes.  Entries outside `keep` (e.g. NaN with weight 0) get code 0."""
    lowest = np.min(np.where(keep, values, np.inf), axis=1, keepdims=True)
    ordered = np.where(keep, values, np.where(np.isfinite(lowest), lowest, 0.0))
    order = np.argsort(ordered, axis=1)
    sorted_values = np.take_along_axis(ordered, order, axis=1)
    new = np.ones(sorted_values.shape, dtype=bool)
    new[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    sorted_codes = np.cumsum(new, axis=1) - 1
    codes = np.empty_like(sorted_codes)
    np.put_along_axis(codes, order, sorted_codes, axis=1)
    return codes, sorted_codes[:, -1] + 1
