"""Packed counters: per row, the signed count of ordered entry pairs by level, with the
running weights of all thresholds of a short scale packed as bit fields into one word."""

from __future__ import annotations

import numpy as np

from analysis.kernels.scratch import scratch


def signed_pairs_in_order(
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
    running = scratch.get("running", levels.shape, np.uint64)
    shifts = scratch.get("shifts", levels.shape, np.uint64)
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
