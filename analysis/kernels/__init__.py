"""Batched weighted ranks and correlations: the kernels behind every comparison.

Why weights: a bootstrap sample over stimuli repeats some stimuli and drops others.  rsatoolbox
materialises the resampled matrix, marks pairs of a stimulus with its own copy as NaN and
compares the remaining upper triangle.  Pair (i, j) then appears c_i * c_j times, where c are
the stimulus counts of the sample.  Every statistic on that expanded vector equals the same
statistic on the original pairs with integer weights w_ij = c_i * c_j: mid-ranks become
"weight below + (tie-group weight + 1) / 2", means and cross-products become weighted sums, and
Kendall's tau-a counts each pair of entries w_a * w_b times.  Working on the original pairs
with a (n_samples, n_pairs) weight array lets a whole bootstrap run as a few array operations
instead of thousands of matrix copies, with the same numbers.  Missing pairs (NaN) get weight 0.

One module per statistic:

* `pearson` -- weighted means and cross-products (`paired_stat`, `cross_correlate`), z-scoring
  for pooled ceilings (`zscore_weighted`); rho-a is the same sum on ranks.
* `ranks` -- Spearman / rho-a ranks.  A fixed vector is sorted once (`SortedRows`) and re-ranked
  under any weights by tie-group totals and a cumulative sum.  Pooled leave-one-out ranks change
  per draw, so they are sorted per row on packed integer keys (`rank_cross_sums`, 32-bit keys
  when they fit, else value + weight + product in 64 bits; `rank_half_integers` when neither
  fits); every rank sum is an exact integer.
* `tau` -- Kendall's tau-a, exact.  How the algorithm is chosen (`tau_a_of_codes`): when one
  side has at most `LEVELS_TAU_MAX_LEVELS` distinct values (every participant's judgments: 0/1
  choices, proportions, 1-7 ratings) by levels (`tau_levels`, O(P L) array work, all rows at
  once); otherwise (two continuous vectors, e.g. a Mantel test of a model against a group
  matrix) by one sort and scipy's compiled merge count per row.  Against one fixed row (a
  Mantel null) see `permuted_tau`.
* `tau_levels` -- the levels algorithm: each row sorted once by packed (x, y, w) keys, then the
  signed pairs counted by `packed_counters`; `tau_a_one_x` sorts a model once and gathers
  every participant's levels into its order.
* `packed_counters` -- running weights of all thresholds of a short scale as bit fields of one
  64-bit word, so one cumulative sum serves all of them.
* `codes` -- dense integer codes, shared by the above.
* `permuted_products`, `permuted_tau`, `paired_pearson`, `cell_weights` -- compiled loops
  (numba) where the array version moves many times the data: the Mantel nulls' permuted
  products and permuted tau-a counts (the pairs in the fixed side's order, an inversion
  count per permutation), the cell engine's Pearson ceilings and its cells' weights.
* `correlate` -- any statistic by name on broadcast rows (the simple, unbatched entry point).

Special paths, each kept because it pays at report sizes (CPU time with / without it,
benchmarks/RESULTS.md, 2026-12-04): packed counters (tau-a dual bootstrap 1.5-1.9x, Mantel on
a 48-stimulus choice study 3.9x), reused scratch buffers (`scratch`, 1.3x at 100 stimuli x 30
participants), one sort of each model per draw (`tau_a_one_x`, 1.3x), unit-weight rank sums
(participant-only draws, 1.4x).  Removed: the O(P^2) tau-a path (15x slower than the merge
count) and a packed-key stable sort (no measurable gain).
"""

from analysis.kernels.codes import dense_codes
from analysis.kernels.correlate import METHODS, RANK_METHODS, correlate
from analysis.kernels.pearson import (
    cross_correlate,
    cross_sums,
    finish_correlation,
    paired_stat,
    zscore_weighted,
)
from analysis.kernels.ranks import (
    SortedRows,
    rank_cross_sums,
    rank_half_integers,
    ranked_cross_sums,
    weighted_ranks,
)
from analysis.kernels.tau import (
    LEVELS_TAU_MAX_LEVELS,
    tau_a,
    tau_a_of_codes,
    tau_a_rows,
    tau_a_rows_against,
)
from analysis.kernels.tau_levels import tau_a_codes, tau_a_one_x

__all__ = [
    "LEVELS_TAU_MAX_LEVELS",
    "METHODS",
    "RANK_METHODS",
    "SortedRows",
    "correlate",
    "cross_correlate",
    "cross_sums",
    "dense_codes",
    "finish_correlation",
    "paired_stat",
    "rank_cross_sums",
    "rank_half_integers",
    "ranked_cross_sums",
    "tau_a",
    "tau_a_codes",
    "tau_a_of_codes",
    "tau_a_one_x",
    "tau_a_rows",
    "tau_a_rows_against",
    "weighted_ranks",
    "zscore_weighted",
]
