"""Spearman and rho-a: weighted mid-ranks of fixed vectors under many weight rows, and the
exact rank cross-sums of pooled (leave-one-out) ranks."""

from __future__ import annotations

import numpy as np
from scipy import sparse


class SortedRows:
    """A stack of vectors (..., P), sorted once, that can be mid-ranked under any weights.

    The tie groups of each vector are fixed, so ranking under new weights needs only the
    weight total of every group (one gather and one ``add.reduceat``), a cumulative sum over
    groups and one gather back to the original order.  NaN entries sort last and form groups
    of their own; give them weight 0.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        self.shape = values.shape
        flat = values.reshape(-1, values.shape[-1])
        n_rows, n = flat.shape
        self.order = np.argsort(flat, axis=1, kind="stable")
        ordered = np.take_along_axis(flat, self.order, axis=1)
        new_group = np.ones_like(ordered, dtype=bool)
        # NaN != NaN, so every missing entry is a group of its own
        new_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        flat_new = new_group.ravel()
        self.group_starts = np.flatnonzero(flat_new)  # into the flattened sorted stack
        group_of_sorted = np.cumsum(flat_new) - 1
        group_id = np.empty(n_rows * n, dtype=np.int64)
        group_id[(self.order + (np.arange(n_rows) * n)[:, None]).ravel()] = group_of_sorted
        self.group_id = group_id  # group of each original entry, flattened
        first_group = group_of_sorted.reshape(n_rows, n)[:, 0]
        self._groups: sparse.csr_array | None = None  # built on first use
        self.row_of_group = np.repeat(
            np.arange(n_rows), np.diff(np.append(first_group, len(self.group_starts)))
        )
        self.first_group = first_group

    def ranks(self, weights: np.ndarray) -> np.ndarray:
        """Weighted mid-ranks (scipy 'average' ranks of the expanded vector).

        `weights` has shape (B, ..., P) where (..., P) broadcasts to this stack's shape; the
        result has shape (B, *stack_shape).  Entries with weight 0 get a rank that is
        meaningless and must be ignored by the caller.
        """
        before, totals = self._group_weights(np.asarray(weights, dtype=float))
        return self._expand(before + (totals + 1.0) / 2.0)

    def doubled_ranks(self, weights: np.ndarray) -> np.ndarray:
        """2 x the mid-ranks as exact integers, for integer `weights` (see `ranks`): int32
        when they fit (half the memory traffic in what follows), else int64."""
        before, totals = self._group_weights(np.asarray(weights, dtype=np.int64))
        doubled = 2 * before + totals + 1
        if doubled.max(initial=0) < 2**31:
            doubled = doubled.astype(np.int32)
        return self._expand(doubled)

    def _group_weights(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per tie group: weight of the lower groups of its row, and its own weight."""
        batch = weights.shape[0]
        n = self.shape[-1]
        if weights.ndim == 2 and weights.shape[1] == n:  # one weight row for the whole stack
            # sparse (group x pair) membership times the weights: reads whole rows of W^T
            # in order, an order of magnitude faster than gathering W by each row's sort order
            totals = (self._membership() @ weights.T.astype(float)).T
            if np.issubdtype(weights.dtype, np.integer):
                totals = np.rint(totals).astype(weights.dtype)
        else:
            full = np.broadcast_to(weights, (batch, *self.shape)).reshape(batch, -1, n)
            sorted_w = np.take_along_axis(full, self.order[None], axis=2)
            totals = np.add.reduceat(sorted_w.reshape(batch, -1), self.group_starts, axis=1)
        cum = np.cumsum(totals, axis=1)
        # weight of the groups before each group, counted within its own row only
        row_base = np.zeros((batch, len(self.first_group)), dtype=cum.dtype)
        row_base[:, 1:] = cum[:, self.first_group[1:] - 1]
        return cum - totals - row_base[:, self.row_of_group], totals

    def _membership(self) -> sparse.csr_array:
        if self._groups is None:
            n = self.shape[-1]
            columns = np.tile(np.arange(n), self.group_id.size // n)
            ones = np.ones(self.group_id.size)
            shape = (len(self.group_starts), n)
            self._groups = sparse.csr_array((ones, (self.group_id, columns)), shape=shape)
        return self._groups

    def _expand(self, group_values: np.ndarray) -> np.ndarray:
        return group_values[:, self.group_id].reshape(group_values.shape[0], *self.shape)


def rank_half_integers(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mid-ranks of rows whose values are exact non-negative multiples of 1/2.

    Sums of mid-ranks (pooled rank RDMs) are such values.  Doubling makes them integers, which
    are packed with the column index into one unsigned integer and sorted with ``np.sort`` --
    several times faster than ``argsort`` of floats -- and ties are exact.  Returns
    (order, ranks in sorted order), both (R, P); entries with weight 0 are ignored.
    """
    n_rows, n = values.shape
    keys = np.rint(2.0 * values).astype(np.uint64)
    bits = max(1, int(n - 1).bit_length())
    dtype = np.uint32 if int(keys.max(initial=0)) < (1 << (32 - bits)) else np.uint64
    packed = (keys.astype(dtype) << dtype(bits)) | np.arange(n, dtype=dtype)
    packed.sort(axis=1)
    order = (packed & dtype((1 << bits) - 1)).astype(np.intp)
    sorted_keys = packed >> dtype(bits)
    sorted_w = np.take_along_axis(weights, order, axis=1)
    new_group = np.ones((n_rows, n), dtype=bool)
    new_group[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    flat_new = new_group.ravel()
    starts = np.flatnonzero(flat_new)
    totals = np.add.reduceat(sorted_w.ravel(), starts)
    cum = np.cumsum(totals)
    row_first = np.searchsorted(starts, np.arange(n_rows) * n)
    row_base = np.concatenate([[0.0], cum[row_first[1:] - 1]])
    sizes = np.diff(np.append(row_first, len(starts)))
    before = cum - totals - np.repeat(row_base, sizes)
    group_rank = before + (totals + 1.0) / 2.0
    ranks = np.repeat(group_rank, np.diff(np.append(starts, n_rows * n)))
    return order, ranks.reshape(n_rows, n)


def rank_cross_sums(
    values2: np.ndarray, weights: np.ndarray, other2: np.ndarray, *, unit: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row: sum w * r * y and sum w * r^2, where r are the weighted mid-ranks of the values.

    Inputs are exact non-negative int64, (R, L): `values2` and `other2` are *doubled* values
    and y (mid-ranks and sums of mid-ranks are multiples of 1/2), `weights` the integer
    weights.  Rows are ordered by one in-place sort of packed unsigned keys -- (value, column)
    in 32 bits when they fit, which sorts fastest, else (value, w, w * 2y) in 64 bits so no
    lookups are needed -- then mid-ranks are a row-wise cumulative sum of w, and only entries
    that tie get their group's mid-rank patched in.  All sums are exact.  `values2` is
    overwritten.  ``unit=True`` promises that every weight is 1 (a participant-only resample):
    ranks are then positions and no weights are looked up.  Returns None when the numbers fit
    neither layout (the caller then uses `rank_half_integers`).
    """
    n_rows, n = values2.shape
    bits_v = max(1, int(values2.max(initial=0)).bit_length())
    bits_col = max(1, (n - 1).bit_length())
    if bits_v + bits_col <= 32:
        keys = values2.view(np.uint32) if values2.dtype == np.int32 else values2.astype(np.uint32)
        keys <<= np.uint32(bits_col)
        keys |= np.arange(n, dtype=np.uint32)
        keys.sort(axis=1)
        flat = (keys & np.uint32((1 << bits_col) - 1)).astype(np.intp)
        flat += (np.arange(n_rows) * n)[:, None]
        if unit:
            return _unit_sums_from_sorted(keys >> np.uint32(bits_col), other2.ravel().take(flat))
        w = weights.ravel().take(flat).astype(float)
        wy2 = w * other2.ravel().take(flat)
        return _sums_from_sorted(keys >> np.uint32(bits_col), w, wy2)
    max_w_total = int(weights.sum(1).max(initial=0))
    bits_w = max(1, max_w_total.bit_length())
    bits_wy = max(1, (max_w_total * int(other2.max(initial=0))).bit_length())
    if bits_v + bits_w + bits_wy > 64:
        return None
    # w and w * 2y sit below the value; adding them over a tie group cannot carry across
    packed = values2.astype(np.int64, copy=False).view(np.uint64)
    packed <<= np.uint64(bits_w + bits_wy)
    low = weights * other2
    low |= weights << bits_wy
    packed |= low.view(np.uint64)
    packed.sort(axis=1)
    high = packed >> np.uint64(bits_w + bits_wy)
    packed &= np.uint64((1 << (bits_w + bits_wy)) - 1)
    w = (packed >> np.uint64(bits_wy)).astype(float)
    wy2 = (packed & np.uint64((1 << bits_wy) - 1)).astype(float)
    return _sums_from_sorted(high, w, wy2)


def ranked_cross_sums(
    values: np.ndarray, weights: np.ndarray, other: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (R, L): sum w r y and sum w r^2, r the weighted mid-ranks of the float
    `values`, y = `other` (mid-ranks: multiples of 1/2, so every sum is exact).  One sort of
    each row; the ends of the tie groups come from running maxima and minima of positions,
    so long runs of ties (pooled choice data) cost no more than none.  Entries with weight 0
    are ignored."""
    n_rows, n = values.shape
    order = np.argsort(values, axis=1)
    high = np.take_along_axis(values, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    cum = np.cumsum(w, axis=1)
    boundary = np.ones((n_rows, n + 1), dtype=bool)  # a tie group starts at k / ends before k
    boundary[:, 1:-1] = high[:, 1:] != high[:, :-1]
    position = np.arange(n)
    start = np.maximum.accumulate(np.where(boundary[:, :-1], position, 0), axis=1)
    stop = np.where(boundary[:, 1:], position, n - 1)
    stop = np.minimum.accumulate(stop[:, ::-1], axis=1)[:, ::-1]
    before = np.take_along_axis(cum - w, start, axis=1)
    ranks = (before + np.take_along_axis(cum, stop, axis=1) + 1.0) / 2.0
    wr = w * ranks
    y = np.take_along_axis(other, order, axis=1)
    return np.einsum("rl,rl->r", wr, y), np.einsum("rl,rl->r", wr, ranks)


def _sums_from_sorted(high, w, wy2) -> tuple[np.ndarray, np.ndarray]:
    """Row sums of w r y and w r^2 for rows sorted by `high` (the values), with weights w
    and w * 2y in the same order."""
    # mid-ranks without ties: weight up to and including the entry, minus (w - 1) / 2
    ranks = np.cumsum(w, axis=1)
    ranks -= 0.5 * w
    ranks += 0.5
    sum_wry = np.einsum("rl,rl->r", ranks, wy2) / 2.0
    sum_wr2 = np.einsum("rl,rl->r", ranks * w, ranks)
    tied = high[:, 1:] == high[:, :-1]  # entry k+1 ties with entry k
    if tied.any():
        _correct_ties(tied, w, wy2, ranks, sum_wry, sum_wr2)
    return sum_wry, sum_wr2


def _unit_sums_from_sorted(high, y2) -> tuple[np.ndarray, np.ndarray]:
    """`_sums_from_sorted` when every weight is 1: the rank of an untied entry is its
    position + 1, so sum r y is one matrix-vector product and sum r^2 a constant."""
    n_rows, n = y2.shape
    positions = np.arange(1.0, n + 1.0)
    sum_wry = (y2 @ positions) / 2.0
    sum_wr2 = np.full(n_rows, n * (n + 1.0) * (2.0 * n + 1.0) / 6.0)
    tied = high[:, 1:] == high[:, :-1]
    if tied.any():
        _correct_ties(tied, None, y2, np.broadcast_to(positions, (n_rows, n)), sum_wry, sum_wr2)
    return sum_wry, sum_wr2


def _correct_ties(tied, w, wy2, ranks, sum_wry, sum_wr2) -> None:
    """Give every member of a tie group the group's mid-rank (in place on the row sums)."""
    n_rows, n = ranks.shape
    left = np.zeros((n_rows, n), dtype=bool)  # ties with the entry before it
    left[:, 1:] = tied
    right = np.zeros((n_rows, n), dtype=bool)  # ties with the entry after it
    right[:, :-1] = tied
    members = np.flatnonzero(left | right)
    flat_left, flat_right = left.ravel(), right.ravel()
    # walk to the ends of each tie run (runs are short: a few steps over the members only)
    start = members.copy()
    step = flat_left[start]
    while step.any():
        start[step] -= 1
        step = flat_left[start]
    stop = members.copy()
    step = flat_right[stop]
    while step.any():
        stop[step] += 1
        step = flat_right[stop]

    def at(array, index):  # entries of a (rows, n) array, which may be a broadcast view
        return array[index // n, index % n]

    w_start = 1.0 if w is None else at(w, start)
    w_stop = 1.0 if w is None else at(w, stop)
    w_members = 1.0 if w is None else at(w, members)
    # weight before the run, and up to its end (rank = cumulative weight - (w - 1) / 2)
    before = at(ranks, start) - (w_start + 1.0) / 2.0
    through = at(ranks, stop) + (w_stop - 1.0) / 2.0
    group_rank = before + (through - before + 1.0) / 2.0
    naive = at(ranks, members)
    rows = members // n
    fix_wry = at(wy2, members) * (group_rank - naive) / 2.0
    fix_wr2 = w_members * (group_rank**2 - naive**2)
    sum_wry += np.bincount(rows, weights=fix_wry, minlength=n_rows)
    sum_wr2 += np.bincount(rows, weights=fix_wr2, minlength=n_rows)


def weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-ranks of each row of `values` (..., P) under `weights` of the same shape."""
    values = np.asarray(values, dtype=float)
    return SortedRows(values).ranks(np.asarray(weights, dtype=float)[None])[0]
