"""Kendall's tau-a of a permuted matrix against a fixed one, compiled (numba): the Mantel null
of tau-a (a model's matrix permuted, against the group matrix).

The pairs are put in the order of the fixed side's codes y once.  Per permutation p the
permuted side's codes a_k = x[p[rows[k]], p[cols[k]]] are gathered in that order; then the
discordant pairs are the inversions of a (k < l, a_k > a_l) less those inside a tie group of
y, and the pairs tied in x, or in both, are pairs of equal codes in a, or inside a group.
Both are counted by radix passes of 10 bits from the most significant digit, each group's
digits on a binary trie of constant depth (2,048 nodes, in the core's first-level cache;
`_inversions_and_ties`).  Every count is an exact integer, so tau-a is the same float as
scipy's merge count gives (`tests/unit/analysis/test_permuted_tau.py`).  Against the path it
replaced (the codes gathered in chunks, scipy's Fenwick-tree count per permutation, or the
levels algorithm when one side had at most 64 values) it is 2.5x faster at 1,000 faces and
1.6-5x on the other shapes measured (`benchmarks/permuted_tau.py`, RESULTS.md 2026-12-07).
numba because the loop needs compiled code and the project ships no C; ``nogil`` lets the
Mantel tests run on threads.
"""

from __future__ import annotations

import numba
import numpy as np


class PermutedTau:
    """tau-a of a complete matrix of codes x, permuted, against fixed codes y of its pairs.

    y_codes: (P,) non-negative integer codes of y, pair k being (rows[k], cols[k]); x_codes:
    (n, n) symmetric non-negative integer codes.  Pairs with a negative y code are left out
    (the pairs y does not have).
    """

    def __init__(self, x_codes: np.ndarray, y_codes: np.ndarray, rows, cols) -> None:
        keep = np.flatnonzero(y_codes >= 0)
        order = keep[np.argsort(y_codes[keep], kind="stable")]
        y_sorted = y_codes[order]
        self.rows = np.ascontiguousarray(rows[order], dtype=np.int32)
        self.cols = np.ascontiguousarray(cols[order], dtype=np.int32)
        self.x = np.ascontiguousarray(x_codes, dtype=np.int32)
        self.bits = max(1, int(self.x.max(initial=0)).bit_length())
        starts = np.flatnonzero(np.diff(y_sorted, prepend=-1, append=-1) != 0)
        sizes = np.diff(starts)
        groups = sizes > 1
        self.ties = np.ascontiguousarray(np.stack([starts[:-1][groups], starts[1:][groups]], 1))
        self.tied_y = int((sizes * (sizes - 1) // 2).sum())

    def tau_a(self, perms: np.ndarray) -> np.ndarray:
        """tau-a for each permutation (R, n) of the stimuli of x; NaN with fewer than 2 pairs."""
        n_pairs = self.rows.size
        out = np.full(len(perms), np.nan)
        if n_pairs < 2:
            return out
        counts = np.empty((len(perms), 3), dtype=np.int64)
        perms = np.ascontiguousarray(perms, dtype=np.int32)
        permuted_pair_counts(self.x, perms, self.rows, self.cols, self.ties, self.bits, counts)
        discordant, tied_x, tied_both = counts.T
        pairs = n_pairs * (n_pairs - 1) // 2
        difference = pairs - tied_x - self.tied_y + tied_both - 2 * discordant
        return np.clip(difference / pairs, -1.0, 1.0)


# Bits of a code taken per pass: the trie of one pass has this many levels, a constant, so
# the compiler unrolls its loop (1.5x faster than a depth known at run time).
DIGIT_BITS = 10
_LEAVES = 1 << DIGIT_BITS


@numba.njit(nogil=True, cache=True)
def permuted_pair_counts(x, perms, rows, cols, ties, bits, out):
    """out[r] = (discordant pairs, pairs tied in x, pairs tied in both) of the codes
    a_k = x[p[rows[k]], p[cols[k]]], p = perms[r], against y, whose order the pairs are in and
    whose tie groups are the [start, end) rows of `ties`; every code below 2^bits."""
    n_pairs = rows.size
    a = np.empty(n_pairs, dtype=np.int32)
    within = np.empty(n_pairs, dtype=np.int32)
    whole = np.array([[0, n_pairs]], dtype=np.int64)
    scratch = (
        np.empty(n_pairs, dtype=np.int32),  # the codes after a split by a digit
        np.zeros(2 * _LEAVES, dtype=np.int32),  # one pass's trie, zero between groups
        np.empty(n_pairs + 2, dtype=np.int64),  # the groups of equal digits so far
        np.empty(n_pairs + 2, dtype=np.int64),
        np.empty(_LEAVES + 1, dtype=np.int64),  # a group's digit counts
    )
    for r in range(perms.shape[0]):
        p = perms[r]
        for k in range(n_pairs):
            a[k] = x[p[rows[k]], p[cols[k]]]
        inverted_within, tied_both = 0, 0
        if ties.shape[0]:  # the pairs inside y's tie groups are neither kind: counted apart
            within[:] = a
            inverted_within, tied_both = _inversions_and_ties(within, bits, ties, *scratch)
        inverted, tied_x = _inversions_and_ties(a, bits, whole, *scratch)
        out[r, 0] = inverted - inverted_within
        out[r, 1] = tied_x
        out[r, 2] = tied_both


@numba.njit(nogil=True, cache=True, inline="always")
def _insert(tree, digit):
    """Add a digit to the binary trie `tree` (node t's children 2t, 2t + 1, DIGIT_BITS
    levels); returns how many digits added before are greater."""
    greater = 0
    node = 1
    for level in range(DIGIT_BITS - 1, -1, -1):
        bit = (digit >> level) & 1
        greater += tree[2 * node + 1] & (bit - 1)  # the right child's count when bit is 0
        node = 2 * node + bit
        tree[node] += 1
    return greater


@numba.njit(nogil=True, cache=True, inline="always")
def _clear(tree, codes, shift):
    """Zero the trie nodes that the digits of `codes` touched."""
    if codes.size * DIGIT_BITS >= tree.size:
        tree[:] = 0
        return
    for k in range(codes.size):
        node = _LEAVES + ((codes[k] >> shift) & (_LEAVES - 1))
        while node > 1:
            tree[node] = 0
            node >>= 1


@numba.njit(nogil=True, cache=True)
def _inversions_and_ties(codes, bits, first_groups, spare, tree, groups, next_groups, counts):
    """(pairs k < l with codes_k > codes_l, pairs with codes_k == codes_l) inside each group
    [start, end) of `first_groups` (G, 2) of codes below 2^bits.  `codes` and the other
    arguments are scratch, overwritten.

    Radix passes from the most significant digit: a pair first differs in one digit, and in
    that pass both codes are in one group (equal higher digits) in sequence order, so each
    group's inversions of that digit are counted on a trie; then the groups are split by the
    digit (a stable counting sort).  Pairs equal in every digit are the ties."""
    n_passes = max(1, (bits + DIGIT_BITS - 1) // DIGIT_BITS)
    n_groups = first_groups.shape[0]  # [start, end) of each group of two or more codes
    groups[: 2 * n_groups] = first_groups.ravel()
    inversions = 0
    ties = 0
    for step in range(n_passes):
        shift = DIGIT_BITS * (n_passes - 1 - step)
        last = step == n_passes - 1
        n_next = 0
        for g in range(n_groups):
            start, end = groups[2 * g], groups[2 * g + 1]
            group = codes[start:end]
            counts[:] = 0
            for k in range(group.size):
                digit = (group[k] >> shift) & (_LEAVES - 1)
                if last:
                    ties += tree[_LEAVES + digit]  # earlier codes equal in every digit
                else:
                    counts[digit + 1] += 1
                inversions += _insert(tree, digit)
            _clear(tree, group, shift)
            if last:
                continue
            for d in range(_LEAVES):  # split the group by the digit, in sequence order
                if counts[d + 1] > 1:
                    next_groups[2 * n_next] = start + counts[d]
                    next_groups[2 * n_next + 1] = start + counts[d] + counts[d + 1]
                    n_next += 1
                counts[d + 1] += counts[d]
            split = spare[start:end]
            for k in range(group.size):
                digit = (group[k] >> shift) & (_LEAVES - 1)
                split[counts[digit]] = group[k]
                counts[digit] += 1
        codes, spare = spare, codes
        groups, next_groups = next_groups, groups
        n_groups = n_next
    return inversions, ties
