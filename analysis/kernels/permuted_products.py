"""Sums of products of a permuted matrix with a fixed one, compiled (numba): the Mantel
nulls of Pearson, Spearman and rho-a (`analysis.inference`).

For each permutation p one pass over the upper triangle adds x[p_i, p_j] y[i, j]; row p_i of
x is read in place, so nothing is copied.  The array version took the permuted matrix (a row
and a column `take` of all n x n entries) and a dot product with y, three passes over n^2
entries per permutation; this one reads half of y once and is several times faster at 300 to
1,000 stimuli (benchmarks/RESULTS.md, 2026-12-06).  Integer inputs sum exactly in int64;
floats sum in row order.  numba because the loop needs compiled code and the project ships no
C; ``nogil`` lets the Mantel tests run on threads.
"""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True)
def permuted_upper_products(x, y, perms, out):
    """out[r] = sum over i < j of x[p_i, p_j] * y[i, j], p = perms[r]; x and y are n x n
    of one dtype (out's), every row of `perms` a permutation of range(n) (not checked)."""
    n = x.shape[0]
    for r in range(perms.shape[0]):
        p = perms[r]
        total = out.dtype.type(0)
        for i in range(n - 1):
            row = x[p[i]]
            for j in range(i + 1, n):
                total += row[p[j]] * y[i, j]
        out[r] = total
