"""The embedding objective's pass over the trials, compiled (numba).

`choice_loss_gradient` takes each trial's three candidate pairs in turn: it scores them
reading the stimuli's rows in place, takes their softmax, adds the trial's negative
log-likelihood and adds each pair's gradient straight into the rows of the two stimuli.  The
array version gathered three trials x dimensions copies of X per evaluation and scattered the
pair weights into an n x n matrix that it then multiplied by X (about twice as long at 1,000
faces and 120,000 trials); a first compiled version kept the softmax in numpy between two
passes, which took longer than both passes together (6.3 ms against 2.9 ms fused for 96,000
trials; benchmarks/RESULTS.md, 2026-12-07 ninth session).  Sums run in another order than the
array version's, so values and gradients equal it to rounding (``tests/unit/analysis/
test_embedding.py``).  numba because the loop needs compiled code and the project ships no C;
``nogil`` lets the dimensionality search's fits run on threads.
"""

from __future__ import annotations

import math

import numba


@numba.njit(nogil=True, cache=True)
def choice_loss_gradient(x, i, j, odd, afc, tste, alpha, grad):
    """The mean negative log-likelihood of choosing pair (i, j) of each trial, with its
    gradient added into `grad` (n x d).

    A pair's score is x_a . x_b (SPoSE) or the t-STE log-kernel of its squared distance; the
    choice is a softmax over (i, j), (i, odd), (j, odd), without (j, odd) on 2AFC trials.  By a
    pair's score the gradient is (p - 1) / m for the chosen pair and p / m for the others,
    times d score / d squared distance for t-STE.  Indices are not checked: the caller passes
    stimulus indices below len(x)."""
    m, d = len(i), x.shape[1]
    total = 0.0
    for t in range(m):
        a, b, c = i[t], j[t], odd[t]
        s0 = s1 = s2 = 0.0
        for k in range(d):
            xa, xb, xc = x[a, k], x[b, k], x[c, k]
            if tste:  # squared distances
                s0 += (xa - xb) * (xa - xb)
                s1 += (xa - xc) * (xa - xc)
                s2 += (xb - xc) * (xb - xc)
            else:
                s0 += xa * xb
                s1 += xa * xc
                s2 += xb * xc
        if tste:
            g0 = -(alpha + 1.0) / (2.0 * (alpha + s0))  # d score / d squared distance
            g1 = -(alpha + 1.0) / (2.0 * (alpha + s1))
            g2 = -(alpha + 1.0) / (2.0 * (alpha + s2))
            s0 = -(alpha + 1.0) / 2.0 * math.log1p(s0 / alpha)
            s1 = -(alpha + 1.0) / 2.0 * math.log1p(s1 / alpha)
            s2 = -(alpha + 1.0) / 2.0 * math.log1p(s2 / alpha)
        top = max(s0, s1) if afc[t] else max(s0, s1, s2)
        e0, e1 = math.exp(s0 - top), math.exp(s1 - top)
        e2 = 0.0 if afc[t] else math.exp(s2 - top)  # (j, odd) is no candidate on 2AFC
        z = e0 + e1 + e2
        total += math.log(z) - (s0 - top)  # -log p0
        f0, f1, f2 = (e0 / z - 1.0) / m, e1 / z / m, e2 / z / m
        if tste:  # d |x_a - x_b|^2 / d x_a = 2 (x_a - x_b)
            f0, f1, f2 = 2.0 * f0 * g0, 2.0 * f1 * g1, 2.0 * f2 * g2
            for k in range(d):
                xa, xb, xc = x[a, k], x[b, k], x[c, k]
                ab, ac, bc = f0 * (xa - xb), f1 * (xa - xc), f2 * (xb - xc)
                grad[a, k] += ab + ac
                grad[b, k] += bc - ab
                grad[c, k] -= ac + bc
        else:
            for k in range(d):
                xa, xb, xc = x[a, k], x[b, k], x[c, k]
                grad[a, k] += f0 * xb + f1 * xc
                grad[b, k] += f0 * xa + f2 * xc
                grad[c, k] += f1 * xa + f2 * xb
    return total / m
