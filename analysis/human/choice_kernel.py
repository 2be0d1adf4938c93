"""The embedding objective's passes over the trials, compiled (numba).

`pair_scores` scores every trial's three candidate pairs reading the stimuli's rows in place,
and `scatter_gradient` adds each pair's gradient straight into the rows of the two stimuli.
The array version gathered three trials x dimensions copies of X per evaluation and scattered
the pair weights into an n x n matrix that it then multiplied by X; at 1,000 faces and
120,000 trials one evaluation took about twice as long (benchmarks/RESULTS.md, 2026-12-06).
The softmax between the two passes stays in numpy, whose vectorised exp and log are several
times faster than scalar ones in a compiled loop.  Sums run in another order than the array
version's, so values and gradients equal it to rounding (``tests/unit/analysis/
test_embedding.py``).  numba because these loops need compiled code and the project ships no
C; ``nogil`` lets the dimensionality search's fits run on threads.
"""

from __future__ import annotations

import math

import numba


@numba.njit(nogil=True, cache=True)
def pair_scores(x, i, j, odd, afc, tste, alpha, scores, slopes):
    """Fill `scores` (3, m) with the score of each trial's candidate pairs (i, j), (i, odd),
    (j, odd) -- x_a . x_b (SPoSE) or the t-STE log-kernel -- with -inf for (j, odd) on 2AFC
    trials, and, for t-STE, `slopes` (3, m) with d score / d squared distance (untouched
    for SPoSE).  Indices are not checked: the caller passes stimulus indices below len(x)."""
    for t in range(len(i)):
        a, b, c = i[t], j[t], odd[t]
        s0 = s1 = s2 = 0.0
        for k in range(x.shape[1]):
            xa, xb, xc = x[a, k], x[b, k], x[c, k]
            if tste:  # squared distances
                s0 += (xa - xb) * (xa - xb)
                s1 += (xa - xc) * (xa - xc)
                s2 += (xb - xc) * (xb - xc)
            else:
                s0 += xa * xb
                s1 += xa * xc
                s2 += xb * xc
        for r, total in enumerate((s0, s1, s2)):
            if tste:
                scores[r, t] = -(alpha + 1.0) / 2.0 * math.log1p(total / alpha)
                slopes[r, t] = -(alpha + 1.0) / (2.0 * (alpha + total))
            else:
                scores[r, t] = total
        if afc[t]:
            scores[2, t] = -math.inf  # its probability, so its gradient weight, is 0


@numba.njit(nogil=True, cache=True)
def scatter_gradient(x, i, j, odd, probs, slopes, tste, grad):
    """Add the gradient of the mean negative log-likelihood into `grad` (n x d): by each
    pair's score it is -(1 - p) / m for the chosen pair (i, j) and p / m for the others
    (`probs`, the softmax of `pair_scores`), times the slope for t-STE."""
    m = len(i)
    for t in range(m):
        a, b, c = i[t], j[t], odd[t]
        f0, f1, f2 = (probs[0, t] - 1.0) / m, probs[1, t] / m, probs[2, t] / m
        if tste:  # d |x_a - x_b|^2 / d x_a = 2 (x_a - x_b)
            f0, f1 = 2.0 * f0 * slopes[0, t], 2.0 * f1 * slopes[1, t]
            f2 = 2.0 * f2 * slopes[2, t] if f2 != 0.0 else 0.0  # (j, odd) of a 2AFC trial
        for k in range(x.shape[1]):
            xa, xb, xc = x[a, k], x[b, k], x[c, k]
            if tste:
                ab, ac, bc = f0 * (xa - xb), f1 * (xa - xc), f2 * (xb - xc)
                grad[a, k] += ab + ac
                grad[b, k] += bc - ab
                grad[c, k] -= ac + bc
            else:
                grad[a, k] += f0 * xb + f1 * xc
                grad[b, k] += f0 * xa + f2 * xc
                grad[c, k] += f1 * xa + f2 * xb
