"""tau-a by levels: one sort of packed (x, y, w) keys per row, then the packed counters
(`signed_pairs_in_order`); `tau_a_one_x` serves many rows against one sorted vector."""

from __future__ import annotations

import numpy as np

from analysis.kernels.codes import dense_codes
from analysis.kernels.packed_counters import signed_pairs_in_order
from analysis.kernels.scratch import CHUNK_ELEMENTS, scratch


def tau_a_codes(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_levels: int) -> np.ndarray:
    """tau-a of rows given as integer codes, in O(P L) array work for all rows at once.

    x, y, w broadcast to one shape (..., P), the last axis holding the entries of a row: x
    non-negative integers in the order of the values (equal codes = ties), e.g. doubled
    mid-ranks or sums of them; y integers in [0, n_levels); w non-negative integer weights.
    Returns the leading shape.  Each row is sorted once by (x, y) -- one ``np.sort`` of keys
    that pack x, y and w into one unsigned integer, so nothing needs to be gathered
    afterwards.  In that order, C - D = sum over entry pairs a before b of
    w_a w_b sign(y_b - y_a) (`signed_pairs_in_order`), minus the pairs tied in x with
    different y, which the (x, y) order counts as concordant.  Everything is an exact
    integer sum, so the result equals scipy / rsatoolbox on the expanded vector to rounding.

    Rows are processed in blocks of about 2.6 x 10^5 entries copied into scratch arrays that are
    reused from call to call (`Scratch`), so broadcast inputs (a model's codes shared by every
    participant) are never expanded in memory.
    """
    x, y, w = (np.asarray(a) for a in (x, y, w))
    bits_w = max(1, int(w.max(initial=0)).bit_length())
    bits_y = max(1, (n_levels - 1).bit_length())
    bits_x = max(1, int(x.max(initial=0)).bit_length())
    x, y, w = np.broadcast_arrays(x, y, w)
    *lead, n = x.shape
    out = np.full(lead, np.nan)
    if out.size == 0 or n < 2:
        return out
    if bits_x + bits_y + bits_w > 64:  # re-code x as 0..P-1 so the key fits
        x, _ = dense_codes(x.reshape(-1, n).astype(float), w.reshape(-1, n) > 0)
        x, y, w = np.broadcast_arrays(x.reshape(*lead, n), y, w)
        bits_x = max(1, (n - 1).bit_length())
    layout = _KeyLayout(bits_x, bits_y, bits_w)
    step = max(1, CHUNK_ELEMENTS // n)
    for outer in np.ndindex(*lead[:-1]):  # blocks of rows along the last leading axis
        for start in range(0, lead[-1], step):
            rows = (*outer, slice(start, start + step))
            out[rows] = _tau_a_block(x[rows], y[rows], w[rows], layout, n_levels)
    return np.clip(out, -1.0, 1.0)


class _KeyLayout:
    """Bit layout of the sort key (x, y, w), low bits last; 32-bit keys when they fit."""

    def __init__(self, bits_x: int, bits_y: int, bits_w: int) -> None:
        self.dtype = np.uint32 if bits_x + bits_y + bits_w <= 32 else np.uint64
        self.bits_y, self.bits_w = self.dtype(bits_y), self.dtype(bits_w)
        self.mask_y = self.dtype((1 << bits_y) - 1)
        self.mask_w = self.dtype((1 << bits_w) - 1)


def _tau_a_block(x, y, w, layout: _KeyLayout, n_levels: int) -> np.ndarray:
    """tau-a of the rows of a block (see `tau_a_codes`)."""
    shape = x.shape
    key = scratch.get("key", shape, layout.dtype)
    part = scratch.get("part", shape, layout.dtype)
    np.copyto(key, x, casting="unsafe")
    key <<= layout.bits_y + layout.bits_w
    np.copyto(part, y, casting="unsafe")
    part <<= layout.bits_w
    key |= part
    np.copyto(part, w, casting="unsafe")
    key |= part
    key.sort(axis=1)
    weights = scratch.get("weights", shape, np.uint64)
    np.bitwise_and(key, layout.mask_w, out=part)
    np.copyto(weights, part)
    key >>= layout.bits_w  # (x, y)
    levels = scratch.get("levels", shape, np.intp)
    np.bitwise_and(key, layout.mask_y, out=part)
    np.copyto(levels, part, casting="unsafe")
    total = weights.sum(1).astype(np.int64)
    c_minus_d = signed_pairs_in_order(levels, weights, total, n_levels)
    key >>= layout.bits_y  # x
    tied = key[:, 1:] == key[:, :-1]
    if tied.any():
        c_minus_d -= _pairs_tied_in_x_only(tied, levels, weights)
    return _tau_from_counts(c_minus_d, total)


def _tau_from_counts(c_minus_d: np.ndarray, total: np.ndarray) -> np.ndarray:
    """(C - D) / (N (N - 1) / 2); NaN with fewer than 2 entries."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total >= 2, c_minus_d / (total * (total - 1.0) / 2.0), np.nan)


def tau_a_one_x(
    x: np.ndarray, w: np.ndarray, y_t: np.ndarray, n_levels: int, order: np.ndarray | None = None
) -> np.ndarray:
    """tau-a of one vector of integer codes x (P,) against every row of y under integer
    weights `w` (P,); y is given transposed, `y_t` (P, R) with codes in [0, n_levels) (int8
    makes the gather fastest).  Returns (R,).

    Sorting x once serves every row: where x has no ties, the (x, y) order of `tau_a_codes`
    is x's order, so the levels of each row are gathered into it and nothing else is sorted.
    Pairs tied in x, which that order counts with an arbitrary sign, are listed and their
    contribution subtracted; when there are many of them (more than P) `tau_a_codes` does the
    work.  `order` (the stable argsort of x) may be passed when x is reused.  Model
    dissimilarities have few ties or none, so this serves every model evaluation of a draw.
    """
    if order is None:
        order = np.argsort(x, kind="stable")
    kept = order[w[order] > 0]
    first, second = _equal_pairs(x[kept])
    if first is None:
        return tau_a_codes(x, y_t.T, w, n_levels)
    kept_w = w[kept].astype(np.uint64)
    pair_w = (kept_w[first] * kept_w[second]).astype(np.int64)
    n_rows = y_t.shape[1]
    total = np.full(n_rows, int(kept_w.sum()))
    gathered = scratch.get("gathered", (len(kept), n_rows), y_t.dtype)
    np.take(y_t, kept, axis=0, out=gathered, mode="clip")  # rows of y_t: contiguous copies
    levels = scratch.get("levels", (n_rows, len(kept)), np.intp)
    np.copyto(levels, gathered.T)
    weights = np.broadcast_to(kept_w, levels.shape)
    c_minus_d = signed_pairs_in_order(levels, weights, total, n_levels)
    if len(pair_w):  # tied in x: counted as sign(y_b - y_a), should count 0
        c_minus_d -= np.sign(levels[:, second] - levels[:, first]) @ pair_w
    return np.clip(_tau_from_counts(c_minus_d, total), -1.0, 1.0)


def _equal_pairs(ordered: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Positions (a, b), a < b, of every pair of equal entries of a sorted vector; (None,
    None) when there are more such pairs than entries."""
    tied = ordered[1:] == ordered[:-1]
    if not tied.any():
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    group = np.concatenate([[0], np.cumsum(~tied)])
    sizes = np.bincount(group)
    if int((sizes * (sizes - 1) // 2).sum()) > len(ordered):
        return None, None
    pairs = []
    for distance in range(1, int(sizes.max())):
        a = np.flatnonzero(group[:-distance] == group[distance:])
        pairs.append((a, a + distance))
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def _pairs_tied_in_x_only(tied: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per row (sorted by (x, y)): weighted pairs of entries with equal x and different y,
    (sum of squared x-run weights - sum of squared (x, y)-run weights) / 2, computed on the
    entries of tied runs only (`tied`: entry k + 1 has the same x as entry k)."""
    n_rows, n = y.shape
    left = np.zeros((n_rows, n), dtype=bool)
    left[:, 1:] = tied
    member = left.copy()
    member[:, :-1] |= tied
    flat = np.flatnonzero(member)  # entries of x-runs longer than one, in order
    starts_x = ~left.ravel()[flat]  # each run starts with an entry not tied to its left
    y_flat = y.ravel()[flat]
    starts_xy = starts_x.copy()
    starts_xy[1:] |= y_flat[1:] != y_flat[:-1]
    w_flat = w.ravel()[flat]
    rows = flat // n
    squares = []
    for starts in (starts_x, starts_xy):
        at = np.flatnonzero(starts)
        totals = np.add.reduceat(w_flat, at).astype(float)
        squares.append(np.bincount(rows[at], weights=totals**2, minlength=n_rows))
    return np.rint((squares[0] - squares[1]) / 2.0).astype(np.int64)  # exact: < 2^53
