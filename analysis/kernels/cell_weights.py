"""The weights of observed cells under stimulus draws, compiled (numba): the sparse engine's
weights per draw (`analysis.cell_engine`).

out[b, i, j] = c_b[s] * c_b[t] for the cell (i, j) of participant i holding the pair of
stimuli s < t, and 0 for the padding cells, c_b the stimulus counts of draw b.  The array
version took five passes over the (draws x cells) array (two gathers of counts through the
pairs' stimuli, two products); this one takes one, with the same floats (products of small
integers are exact).  numba because the loop needs compiled code and the project ships no C.
"""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True)
def cell_weights(counts, first, second, real, out):
    """out[b] = counts[b, first] * counts[b, second] where `real`, else 0; first, second and
    real are (n_participants, width), out (n_draws, n_participants, width)."""
    for b in range(counts.shape[0]):
        c = counts[b]
        o = out[b]
        for i in range(real.shape[0]):
            for j in range(real.shape[1]):
                o[i, j] = c[first[i, j]] * c[second[i, j]] if real[i, j] else 0.0
