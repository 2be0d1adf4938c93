"""Batched weighted ranks and correlations: the kernels behind every comparison.

Why weights: a bootstrap sample over stimuli repeats some stimuli and drops others.  rsatoolbox
materialises the resampled matrix, marks pairs of a stimulus with its own copy as NaN and
compares the remaining upper triangle.  Pair (i, j) then appears c_i * c_j times, where c are the
stimulus counts of the sample.  Every statistic on that expanded vector equals the same
statistic on the original pairs with integer weights w_ij = c_i * c_j: mid-ranks become
"weight below + (tie-group weight + 1) / 2", means and cross-products become weighted sums, and
Kendall's tau-a counts each pair of entries w_a * w_b times.  Working on the original pairs
with a (n_samples, n_pairs) weight array lets a whole bootstrap run as a few array operations
instead of thousands of matrix copies, with the same numbers.  Missing pairs (NaN) get weight 0.

The sort order of a fixed vector does not depend on the weights, so `SortedRows` sorts once and
re-ranks under any number of weight rows with a cumulative sum and two gathers.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import sparse

try:  # private, but stable for years and what rsatoolbox imports too; scipy is pinned
    from scipy.stats._stats import _kendall_dis
except ImportError as error:  # pragma: no cover - only with an unpinned scipy
    raise ImportError(
        "analysis needs scipy.stats._stats._kendall_dis (scipy's Kendall tau kernel); install "
        "the scipy version pinned in requirements.txt."
    ) from error

RANK_METHODS = ("spearman", "rho-a", "tau-a")
METHODS = ("pearson", "spearman", "rho-a", "tau-a")


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


def zscore_weighted(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(x - weighted mean) / weighted SD (ddof 0) along the last axis; rsatoolbox's pooling
    transform for correlation.  Entries with weight 0 are set to 0; rows whose weighted
    entries are all equal (no SD) are NaN."""
    kept = weights > 0
    x = np.where(kept, values, 0.0)
    total = weights.sum(-1, keepdims=True)
    lowest = np.where(kept, values, np.inf).min(-1, keepdims=True)
    constant = lowest == np.where(kept, values, -np.inf).max(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # rows without weight: NaN
        mean = (weights * x).sum(-1, keepdims=True) / total
        centred = np.where(kept, x - mean, 0.0)
        sd = np.sqrt((weights * centred**2).sum(-1, keepdims=True) / total)
        return centred / np.where(constant, np.nan, sd)


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


def paired_stat(method: str, tx: np.ndarray, ty: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson (or rho-a) of already transformed rows (values or ranks), broadcast.

    For 'spearman' pass ranks; 'rho-a' is 12 * sum w (rx - m)(ry - m) / (N^3 - N).
    """
    tx, ty, w = np.broadcast_arrays(tx, ty, w)
    keep = w > 0
    x = np.where(keep, tx, 0.0)
    y = np.where(keep, ty, 0.0)
    total = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.where(keep, x - (w * x).sum(-1, keepdims=True) / total[..., None], 0.0)
        yc = np.where(keep, y - (w * y).sum(-1, keepdims=True) / total[..., None], 0.0)
        cov = (w * xc * yc).sum(-1)
        if method == "rho-a":
            out = 12.0 * cov / (total**3 - total)
        else:
            out = cov / np.sqrt((w * xc**2).sum(-1) * (w * yc**2).sum(-1))
    return np.where(total >= 2, out, np.nan)


def cross_correlate(
    method: str, tx: np.ndarray, ty: np.ndarray, w: np.ndarray, n_total: np.ndarray
) -> np.ndarray:
    """Pearson / rho-a between every row of `tx` and every row of `ty`, batched.

    tx: (B, M, P) or (B, M, G, P) transformed model vectors (values or ranks), ty: (B, Q, P)
    transformed data vectors, w: (B, G, P) weights with G == 1 (shared) or G == Q (one weight
    row per data vector), n_total: (B, G) sum of weights.  Returns (B, M, Q).
    """
    shared = w.shape[1] == 1
    wq = w if not shared else w[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):  # rows without weight: NaN
        return _cross_correlate(method, tx, ty, w, wq, shared, n_total)


def _cross_correlate(method, tx, ty, w, wq, shared, n_total):
    if shared:
        mean_x = np.einsum("bmp,bp->bm", tx, wq) / n_total
        mean_y = np.einsum("bqp,bp->bq", ty, wq) / n_total
        xc = tx - mean_x[..., None]
        yc = ty - mean_y[..., None]
        xw = xc * wq[:, None, :]
        cov = np.matmul(xw, np.swapaxes(yc, 1, 2))
        var_x = np.einsum("bmp,bmp->bm", xw, xc)[:, :, None]
        var_y = np.einsum("bqp,bqp,bp->bq", yc, yc, wq)[:, None, :]
        total = n_total[:, None, :]
    else:
        mean_x = np.einsum("bmqp,bqp->bmq", tx, w) / n_total[:, None, :]
        mean_y = np.einsum("bqp,bqp->bq", ty, w) / n_total
        xc = tx - mean_x[..., None]
        yc = ty - mean_y[..., None]
        cov = np.einsum("bmqp,bqp,bqp->bmq", xc, yc, w)
        var_x = np.einsum("bmqp,bmqp,bqp->bmq", xc, xc, w)
        var_y = np.einsum("bqp,bqp,bqp->bq", yc, yc, w)[:, None, :]
        total = n_total[:, None, :]
    out = 12.0 * cov / (total**3 - total) if method == "rho-a" else cov / np.sqrt(var_x * var_y)
    return np.where(total >= 2, out, np.nan)


def tau_a(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Kendall's tau-a of two vectors with optional non-negative integer weights.

    tau-a = (concordant - discordant) / (N (N - 1) / 2) on the vector in which entry k appears
    w_k times; without weights, pairs with a NaN on either side are left out.  One row of
    `tau_a_rows`.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if w is None:
        w = (~(np.isnan(x) | np.isnan(y))).astype(float)
    else:
        w = np.asarray(w, float)
        reps = np.rint(w)
        if (np.abs(reps - w) > 1e-9).any() or (reps < 0).any():
            raise ValueError(
                "The 'w' parameter of tau_a must be non-negative integer weights; "
                f"got values such as {w[np.abs(reps - w) > 1e-9][:3]}."
            )
    return float(tau_a_rows(x[None], y[None], w[None])[0])


# tau-a of many rows.  Three exact algorithms, chosen per call by the cheapest that applies:
# * levels (O(P L) array work, all rows at once): when one side has at most
#   LEVELS_TAU_MAX_LEVELS distinct values -- participants' judgments (0/1 choices, proportions,
#   1-7 ratings) always do in this project;
# * quadratic (O(P^2) array work, all rows at once): up to QUADRATIC_TAU_MAX_PAIRS pairs;
# * otherwise one O(P log P) sort and merge count per row (`_tau_a_merge`).
LEVELS_TAU_MAX_LEVELS = 64
QUADRATIC_TAU_MAX_PAIRS = 400
_TAU_CHUNK_ELEMENTS = 2**18


def tau_a_rows(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """tau-a of every row of x and y (..., P) under integer weights w (broadcast)."""
    x, y, w = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(w, float))
    shape = x.shape[:-1]
    n = x.shape[-1]
    x, y, w = (a.reshape(-1, n) for a in (x, y, w))
    out = np.full(len(x), np.nan)
    if len(x) == 0 or n < 2:
        return out.reshape(shape)
    keep = w > 0
    width = max(int(keep.sum(1).max()), 2)
    if width < n:  # only entries with weight count: compact the rows first
        columns = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        x, y, w, keep = (np.take_along_axis(a, columns, axis=1) for a in (x, y, w, keep))
        n = width
    x_codes, x_levels = dense_codes(x, keep)
    y_codes, y_levels = dense_codes(y, keep)
    w_int = np.rint(w).astype(np.int64)
    return tau_a_of_codes(x_codes, x_levels, y_codes, y_levels, w_int).reshape(shape)


def tau_a_of_codes(
    x: np.ndarray, x_levels: np.ndarray, y: np.ndarray, y_levels: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """tau-a of rows (R, P) of integer codes in the order of the values (`dense_codes`, or
    any codes below their level count) under integer weights, by the cheapest algorithm
    that applies (see above); x_levels, y_levels (R,) bound the codes of each row."""
    out = np.full(len(x), np.nan)
    swap = x_levels < y_levels  # the side with fewer distinct values is counted by levels
    few, many = np.where(swap[:, None], x, y), np.where(swap[:, None], y, x)
    levels = np.minimum(x_levels, y_levels)
    by_levels = levels <= LEVELS_TAU_MAX_LEVELS
    if by_levels.any():
        rows = np.flatnonzero(by_levels)
        out[rows] = tau_a_codes(many[rows], few[rows], w[rows], int(levels[rows].max()))
    rest = np.flatnonzero(~by_levels)
    if rest.size and x.shape[1] <= QUADRATIC_TAU_MAX_PAIRS:
        out[rest] = _tau_a_quadratic(x[rest], y[rest], w[rest])
    elif rest.size:
        out[rest] = [_tau_a_merge(x[r], y[r], w[r]) for r in rest]
    return out


def _tau_a_merge(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """tau-a of one row of dense codes under integer weights, O(P log P): sort by (x, y) --
    one ``np.sort`` of packed keys -- and count the discordant pairs with scipy's compiled
    Fenwick-tree kernel, the one ``scipy.stats.kendalltau`` and rsatoolbox use (called
    directly, it costs a twentieth of ``kendalltau``'s own overhead on 5,000 pairs).
    C - D = all pairs - tied in x - tied in y + tied in both - 2 D."""
    if (w != 1).any():  # unit weights (a permutation test) need no expansion
        x, y = np.repeat(x, w), np.repeat(y, w)
    n = len(x)
    if n < 2:
        return float("nan")
    bits = max(1, int(y.max()).bit_length())
    keys = x.astype(np.uint64) << np.uint64(bits)
    keys |= y.astype(np.uint64)
    keys.sort()
    xs = (keys >> np.uint64(bits)).astype(np.intp)
    ys = (keys & np.uint64((1 << bits) - 1)).astype(np.intp) + 1  # the kernel counts from 1
    discordant = _kendall_dis(xs, ys)
    tied = _tied_in_sorted(xs) + _tied_pairs_of_codes(y) - _tied_in_sorted(keys)
    pairs = n * (n - 1) // 2
    return float(np.clip((pairs - tied - 2 * discordant) / pairs, -1.0, 1.0))


def _tied_pairs_of_codes(codes: np.ndarray) -> int:
    counts = np.bincount(codes)
    return int((counts * (counts - 1) // 2).sum())


def _tied_in_sorted(values: np.ndarray) -> int:
    """Pairs of equal entries in a sorted vector."""
    change = np.flatnonzero(values[1:] != values[:-1])
    if len(change) == len(values) - 1:
        return 0
    runs = np.diff(change, prepend=-1, append=len(values) - 1)
    return int((runs * (runs - 1) // 2).sum())


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


def tau_a_codes(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_levels: int) -> np.ndarray:
    """tau-a of rows given as integer codes, in O(P L) array work for all rows at once.

    x, y, w broadcast to one shape (..., P), the last axis holding the entries of a row: x
    non-negative integers in the order of the values (equal codes = ties), e.g. doubled
    mid-ranks or sums of them; y integers in [0, n_levels); w non-negative integer weights.
    Returns the leading shape.  Each row is sorted once by (x, y) -- one ``np.sort`` of keys
    that pack x, y and w into one unsigned integer, so nothing needs to be gathered
    afterwards.  In that order, C - D = sum over entry pairs a before b of
    w_a w_b sign(y_b - y_a) (`_signed_pairs_in_order`), minus the pairs tied in x with
    different y, which the (x, y) order counts as concordant.  Everything is an exact
    integer sum, so the result equals scipy / rsatoolbox on the expanded vector to rounding.

    Rows are processed in blocks of about 2.6 x 10^5 entries copied into scratch arrays that are
    reused from call to call (`_Scratch`), so broadcast inputs (a model's codes shared by every
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
    step = max(1, _TAU_CHUNK_ELEMENTS // n)
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


class _Scratch(threading.local):
    """Flat arrays reused across calls, one per name.  On machines with transparent huge
    pages, every fresh array of a megabyte is zeroed page by page when first written, which
    costs more than the arithmetic done on it; tau-a runs thousands of blocks."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int], dtype) -> np.ndarray:
        size = shape[0] * shape[1]
        array = self.arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = self.arrays[name] = np.empty(max(size, _TAU_CHUNK_ELEMENTS), dtype=dtype)
        return array[:size].reshape(shape)


_scratch = _Scratch()


def _tau_a_block(x, y, w, layout: _KeyLayout, n_levels: int) -> np.ndarray:
    """tau-a of the rows of a block (see `tau_a_codes`)."""
    shape = x.shape
    key = _scratch.get("key", shape, layout.dtype)
    part = _scratch.get("part", shape, layout.dtype)
    np.copyto(key, x, casting="unsafe")
    key <<= layout.bits_y + layout.bits_w
    np.copyto(part, y, casting="unsafe")
    part <<= layout.bits_w
    key |= part
    np.copyto(part, w, casting="unsafe")
    key |= part
    key.sort(axis=1)
    weights = _scratch.get("weights", shape, np.uint64)
    np.bitwise_and(key, layout.mask_w, out=part)
    np.copyto(weights, part)
    key >>= layout.bits_w  # (x, y)
    levels = _scratch.get("levels", shape, np.intp)
    np.bitwise_and(key, layout.mask_y, out=part)
    np.copyto(levels, part, casting="unsafe")
    total = weights.sum(1).astype(np.int64)
    c_minus_d = _signed_pairs_in_order(levels, weights, total, n_levels)
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
        order = stable_order(x)
    kept = order[w[order] > 0]
    first, second = _equal_pairs(x[kept])
    if first is None:
        return tau_a_codes(x, y_t.T, w, n_levels)
    kept_w = w[kept].astype(np.uint64)
    pair_w = (kept_w[first] * kept_w[second]).astype(np.int64)
    n_rows = y_t.shape[1]
    total = np.full(n_rows, int(kept_w.sum()))
    gathered = _scratch.get("gathered", (len(kept), n_rows), y_t.dtype)
    np.take(y_t, kept, axis=0, out=gathered, mode="clip")  # rows of y_t: contiguous copies
    levels = _scratch.get("levels", (n_rows, len(kept)), np.intp)
    np.copyto(levels, gathered.T)
    weights = np.broadcast_to(kept_w, levels.shape)
    c_minus_d = _signed_pairs_in_order(levels, weights, total, n_levels)
    if len(pair_w):  # tied in x: counted as sign(y_b - y_a), should count 0
        c_minus_d -= np.sign(levels[:, second] - levels[:, first]) @ pair_w
    return np.clip(_tau_from_counts(c_minus_d, total), -1.0, 1.0)


def stable_order(codes: np.ndarray) -> np.ndarray:
    """``argsort(codes, kind="stable")`` of non-negative integers: one ``np.sort`` of keys that
    pack each code with its index, several times faster than a stable argsort."""
    n = len(codes)
    bits = max(1, (n - 1).bit_length())
    if n == 0 or int(codes.max()).bit_length() + bits > 64:
        return np.argsort(codes, kind="stable")
    keys = codes.astype(np.uint64) << np.uint64(bits)
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    return (keys & np.uint64((1 << bits) - 1)).astype(np.intp)


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


def _signed_pairs_in_order(
    levels: np.ndarray, w: np.ndarray, total: np.ndarray, n_levels: int
) -> np.ndarray:
    """Per row: sum over entries a before b of w_a w_b sign(y_b - y_a), y = `levels` (intp),
    w uint64 weights, `total` their row sums.

    With F = the weight of pairs a before b with y_a < y_b and W_l the weight at level l, the
    sum is 2 F + (sum_l W_l^2 - total^2) / 2 (all pairs minus those at one level minus F are
    the pairs with y_a > y_b).  F is the sum over b of w_b times A_t(b) at t = y_b, the running
    weight below threshold t.  The running weights of the thresholds t = 1 .. L-1 are packed as
    bit fields into unsigned 64-bit words, so that one cumulative sum serves several
    thresholds and each entry reads its own field with a shift and a mask.  A field must not
    overflow into the next, so the row is cut into segments whose weight fits a field and the
    running sums restart in each (the packed sum is linear: subtracting the previous
    segment's packed total at a segment's first entry does it); what came before a segment
    is added from the per-segment level totals.  Narrow fields put all thresholds of a 7-point scale
    into one word.  Exact integers throughout.
    """
    n_rows, n = levels.shape
    thresholds = n_levels - 1
    if thresholds < 1 or n < 2:
        return np.zeros(n_rows, dtype=np.int64)
    # narrow enough to put all thresholds of a short scale in one word, wide enough for
    # segments of at least 16 entries, never wider than the largest total needs
    narrow = max(_MIN_FIELD_BITS, 63 // thresholds, int(w.max()).bit_length() + 4)
    bits = max(1, min(int(total.max()).bit_length(), narrow))
    starts, segment_totals = _segments(w, total, (1 << bits) - 1)
    per_word = 63 // bits  # bit 63 stays empty, so a shift by 63 reads 0
    mask = np.uint64((1 << bits) - 1)
    running = _scratch.get("running", levels.shape, np.uint64)
    shifts = _scratch.get("shifts", levels.shape, np.uint64)
    # A_t at the end of each segment, counted within the segment (t = 0 and L are 0 and all)
    segment_below = np.zeros((n_rows, len(starts), n_levels + 1), dtype=np.int64)
    segment_below[:, :, n_levels] = segment_totals
    pairs_up = np.zeros(n_rows, dtype=np.uint64)  # F within segments
    for first in range(1, n_levels, per_word):
        fields = range(first, min(first + per_word, n_levels))
        increment, shift = _field_tables(n_levels, first, len(fields), bits)
        np.take(increment, levels, out=running, mode="clip")
        running *= w
        packed = np.add.reduceat(running, starts, axis=1)  # each segment's own fields
        running[:, starts[1:]] -= packed[:, :-1]  # so that the running sums restart there
        np.cumsum(running, axis=1, out=running)
        for k, t in enumerate(fields):
            segment_below[:, :, t] = (packed >> np.uint64(bits * k)) & mask
        np.take(shift, levels, out=shifts, mode="clip")
        running >>= shifts
        running &= mask
        pairs_up += np.einsum("rp,rp->r", running, w)
    at_level = np.diff(segment_below, axis=2)  # (rows, segments, levels)
    before = np.cumsum(segment_below[:, :, :n_levels], axis=1) - segment_below[:, :, :n_levels]
    carried = np.einsum("rsl,rsl->r", at_level, before)  # F across segments
    row_level = at_level.sum(1)
    same_minus_all = (np.einsum("rl,rl->r", row_level, row_level) - total * total) // 2
    return 2 * (pairs_up.astype(np.int64) + carried) + same_minus_all


_MIN_FIELD_BITS = 8


def _segments(w: np.ndarray, total: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts of equal segments (a power of two long, the last one shorter) in which no row
    has more than `limit` weight, and the weight of each (rows, segments).  About a field's
    worth of weight on average, halved until every segment fits (length 1 always does)."""
    n = w.shape[1]
    if int(total.max()) <= limit:
        return np.zeros(1, dtype=np.intp), total[:, None].astype(np.int64)
    length = 1 << ((limit * n // int(total.max())).bit_length() - 1)
    while True:
        starts = np.arange(0, n, min(length, n))
        totals = np.add.reduceat(w, starts, axis=1)
        if length == 1 or int(totals.max()) <= limit:
            return starts, totals.astype(np.int64)
        length //= 2


def _field_tables(n_levels: int, first: int, n_fields: int, bits: int):
    """For thresholds first .. first + n_fields - 1, packed into one word: the fields each
    level adds to (those of the thresholds above it) and the shift that reads its own."""
    increment = np.zeros(n_levels, dtype=np.uint64)
    shift = np.full(n_levels, 63, dtype=np.uint64)
    for k in range(n_fields):
        increment[: first + k] += np.uint64(1 << (bits * k))
        shift[first + k] = bits * k
    return increment, shift


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


def _tau_a_quadratic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """tau-a from the signs of all entry pairs (O(P^2) array work per row, many rows)."""
    n_rows, n = x.shape
    out = np.empty(n_rows)
    step = max(1, 16 * _TAU_CHUNK_ELEMENTS // (n * n))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        xs, ys, ws = x[rows], y[rows], w[rows].astype(float)
        signs = np.sign(xs[:, :, None] - xs[:, None, :]).astype(np.int8)
        signs *= np.sign(ys[:, :, None] - ys[:, None, :]).astype(np.int8)
        numerator = np.einsum("rab,ra,rb->r", signs, ws, ws)
        total = ws.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.where(total >= 2, numerator / (total * (total - 1)), np.nan)
    return np.clip(out, -1.0, 1.0)
