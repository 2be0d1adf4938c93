"""Kendall's tau-a (exact, integer weights): entry points and the choice of algorithm."""

from __future__ import annotations

import numpy as np

from analysis.kernels.codes import dense_codes
from analysis.kernels.tau_levels import tau_a_codes

try:  # private, but stable for years and what rsatoolbox imports too; scipy is pinned
    from scipy.stats._stats import _kendall_dis
except ImportError as error:  # pragma: no cover - only with an unpinned scipy
    raise ImportError(
        "analysis needs scipy.stats._stats._kendall_dis (scipy's Kendall tau kernel); install "
        "the scipy version pinned in requirements.txt."
    ) from error


# tau-a of many rows.  Two exact algorithms, chosen per row:
# * levels (O(P L) array work, all rows at once): when one side has at most
#   LEVELS_TAU_MAX_LEVELS distinct values -- participants' judgments (0/1 choices, proportions,
#   1-7 ratings) always do in this project;
# * otherwise one O(P log P) sort and merge count per row (`_tau_a_merge`).  (An O(P^2) path
#   for rows up to 400 pairs was removed: 15x slower than this at 276 pairs, RESULTS.md.)
LEVELS_TAU_MAX_LEVELS = 64


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


def tau_a_rows(x: np.ndarray, y: np.ndarray, w: np.ndarray, y_codes=None) -> np.ndarray:
    """tau-a of every row of x and y (..., P) under integer weights w (broadcast)."""
    return tau_a_rows_against([x], y, w, y_codes)[0]


def tau_a_rows_against(
    xs: list[np.ndarray], y: np.ndarray, w: np.ndarray, y_codes=None
) -> list[np.ndarray]:
    """`tau_a_rows` (x, y, w) for each x in `xs` (all of one shape, broadcast with y and w):
    the compaction of the rows, y's codes and the weights are made once for all of them.

    `y_codes`: (codes, counts), y's `dense_codes` on whole rows (broadcasting with y and with
    its leading shape), when the caller keeps them: codes in the order of the values serve
    on any subset of a row (`tau_a_of_codes`), so they are gathered instead of recomputed.
    """
    shapes = np.broadcast_shapes(*(np.shape(x) for x in xs), np.shape(y), np.shape(w))
    xs = [np.broadcast_to(np.asarray(x, float), shapes) for x in xs]
    shape = shapes[:-1]
    n = shapes[-1]
    if y_codes is None:
        y = np.broadcast_to(np.asarray(y, float), shapes).reshape(-1, n)
    else:
        y = np.broadcast_to(y_codes[0], shapes).reshape(-1, n)
        y_levels = np.broadcast_to(y_codes[1], shape).reshape(-1)
    w = np.broadcast_to(np.asarray(w, float), shapes).reshape(-1, n)
    xs = [x.reshape(-1, n) for x in xs]
    if len(y) == 0 or n < 2:
        return [np.full(len(y), np.nan).reshape(shape) for _ in xs]
    keep = w > 0
    width = max(int(keep.sum(1).max()), 2)
    if width < n:  # only entries with weight count: compact the rows first
        columns = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        y, w, keep = (np.take_along_axis(a, columns, axis=1) for a in (y, w, keep))
        xs = [np.take_along_axis(x, columns, axis=1) for x in xs]
    if y_codes is None:
        y, y_levels = dense_codes(y, keep)
    w_int = np.rint(w).astype(np.int64)
    out = []
    for x in xs:
        x_codes, x_levels = dense_codes(x, keep)
        out.append(tau_a_of_codes(x_codes, x_levels, y, y_levels, w_int).reshape(shape))
    return out


def tau_a_of_codes(
    x: np.ndarray, x_levels: np.ndarray, y: np.ndarray, y_levels: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """tau-a of rows (R, P) of integer codes in the order of the values (`dense_codes`, or
    any codes below their level count) under integer weights, by the algorithm that
    applies (see above); x_levels, y_levels (R,) bound the codes of each row."""
    out = np.full(len(x), np.nan)
    swap = x_levels < y_levels  # the side with fewer distinct values is counted by levels
    few, many = np.where(swap[:, None], x, y), np.where(swap[:, None], y, x)
    levels = np.minimum(x_levels, y_levels)
    by_levels = levels <= LEVELS_TAU_MAX_LEVELS
    if by_levels.any():
        rows = np.flatnonzero(by_levels)
        out[rows] = tau_a_codes(many[rows], few[rows], w[rows], int(levels[rows].max()))
    rest = np.flatnonzero(~by_levels)
    if rest.size:
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
