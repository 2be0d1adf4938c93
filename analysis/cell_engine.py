"""`CellEngine`: the sparse-design statistics of `analysis.evaluation` on observed cells only.

A sparse study (300 faces, 100 participants x 300 triplets) gives each participant a few
percent of the pairs.  `SparseEngine` works on (draws, participants, all pairs) arrays, so its
cost grows with participants x pairs; this engine keeps, per participant, only the pairs it
observed (one padded row per participant: ``width`` = the most cells of any participant), so
the cost grows with the observed participant x pair cells.  The numbers are the same as
`SparseEngine`'s (same formulas, same exact ranks, pooled sums accumulated in the same
participant order; see tests/unit/analysis/test_cell_engine.py):

* a draw's weight of a cell is the draw's weight of its pair; padding has weight 0;
* the fixed participant values are sorted once (`SortedRows`) and re-ranked under every
  draw's weights, for the evaluations, the pooling terms and the ranks on the shared pairs;
* the pooled and leave-one-out references are sums over the participants that observed a
  pair, scattered into the observed pairs only (``np.bincount``) and gathered back per cell;
* a rank bound drops the cells without weight, then sorts each participant row of the
  reference once and takes exact rank sums against the data's mid-ranks
  (`analysis.kernels.ranked_cross_sums`);
* a draw's model evaluations depend on its pair weights only and are kept by content (the
  dual bootstrap runs every stimulus draw twice);
* Spearman and rho-a differ only in their last step (cov / sqrt(var_x var_y) against
  12 cov / (N^3 - N)): engines of the two on the same data can share a `RankSums`, so the
  second one finishes the rank sums the first kept (by content of the draws) instead of
  ranking again.

Rows are padded to the participant with the most cells, so one participant with far more
pairs than the others (e.g. a pilot who rated all of them) makes every row that long.
"""

from __future__ import annotations

import hashlib

import numpy as np

from analysis.evaluation import (
    MIN_CEILING_PAIRS,
    Engine,
    PairWeightChunk,
    PairWeightRows,
    _weighted_mean,
)
from analysis.kernels import (
    SortedRows,
    cross_correlate,
    cross_sums,
    dense_codes,
    finish_correlation,
    ranked_cross_sums,
    tau_a_rows,
    tau_a_rows_against,
    zscore_weighted,
)
from analysis.kernels.paired_pearson import paired_pearson
from analysis.matrices import n_from_pairs, upper_indices

SHARED_RANK_METHODS = ("spearman", "rho-a")


class RankSums(dict):
    """Rank sums kept by the content of the draws, shared by a Spearman and a rho-a
    `CellEngine` of the same models and cells: (digest of the draws) -> sums.  Small: per
    draw a few (models or participants)-long vectors."""


def _digest(*arrays: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(repr(a.shape).encode())
    return h.digest()


class CellEngine(Engine):
    """Participants with different missing pairs, stored as observed cells.

    cells: (participant, pair, value) arrays, one entry per observed cell (each cell once).
    """

    def __init__(
        self,
        models: np.ndarray,
        cells: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_participants: int,
        method: str,
        min_pairs: int = MIN_CEILING_PAIRS,
        rank_sums: RankSums | None = None,
    ) -> None:
        self._setup(models, n_participants, method, min_pairs)
        participant, pair, value = cells
        order = np.argsort(participant * self.n_pairs + pair, kind="stable")
        participant, pair, value = participant[order], pair[order], value[order]
        per = np.bincount(participant, minlength=n_participants)
        self.width = max(int(per.max(initial=0)), 1)
        column = np.arange(len(pair)) - np.repeat(np.cumsum(per) - per, per)
        self.real = np.zeros((n_participants, self.width), dtype=bool)
        self.real[participant, column] = True
        self.pairs = np.zeros(self.real.shape, dtype=np.intp)
        self.pairs[participant, column] = pair
        rows, cols = upper_indices(n_from_pairs(self.n_pairs))  # each cell's two stimuli
        self.stimuli = (rows[self.pairs].astype(np.int32), cols[self.pairs].astype(np.int32))
        self.values = np.zeros(self.real.shape)
        self.values[participant, column] = value
        # observed pairs, numbered 0..n_observed-1: where pooled sums are scattered
        observed, slot = np.unique(pair, return_inverse=True)
        self.n_observed = len(observed)
        self.slot = np.zeros(self.real.shape, dtype=np.intp)
        self.slot[participant, column] = slot
        self.observers = np.bincount(slot, minlength=self.n_observed)
        self.models_at = models[:, self.pairs]  # (n_models, n_participants, width)
        self._per_cache: dict[bytes, np.ndarray] = {}
        shares = rank_sums is not None and method in SHARED_RANK_METHODS
        self._rank_sums = rank_sums if shares else None
        if method == "tau-a":  # the data's order codes, gathered by every tau-a of a draw
            self.value_codes = dense_codes(self.values, self.real)
        if method != "pearson":
            self.y_ranker = SortedRows(np.where(self.real, self.values, np.nan))
        if method in ("spearman", "rho-a"):
            self.x_ranker = SortedRows(self.models_at)

    def shared_pairs(self) -> np.ndarray:
        return ((self.observers[self.slot] > 1) & self.real).sum(1)

    def _elements_per_draw(self) -> int:
        return self.width * self.n_participants * (self.n_models + 2)

    def _chunk_weights(self, pair_weights, part):
        if isinstance(pair_weights, PairWeightRows):
            return pair_weights.chunk(part)
        return PairWeightChunk.of_rows(pair_weights[part])

    def _chunk(self, pw, uw, ceiling):
        if self._rank_sums is None:
            return self._finish(self._chunk_sums(pw, uw, ceiling), uw)
        kind, source = pw.key()
        key = _digest(source, uw, np.array(ceiling), np.array(kind))
        sums = self._rank_sums.get(key)
        if sums is None:
            sums = self._rank_sums[key] = self._chunk_sums(pw, uw, ceiling)
        return self._finish(sums, uw)

    def _chunk_sums(self, pw, uw, ceiling):
        """Per-participant values (or, for the rank statistics, their sums) and the paired
        ceiling sums of a chunk of draws; `_finish` turns them into the method's numbers."""
        # draws that only resample participants share one weight row: their evaluations
        # and pooling terms are computed once
        rows = pw.first_if_all_equal()
        w = rows.at_cells(self.pairs, self.stimuli, self.real)  # (1 or b, n_participants, width)
        total = w.sum(-1)
        ry = None if self.method == "pearson" else self.y_ranker.ranks(w)
        per = self._per_participant(rows, w, ry, total)
        if not ceiling:
            return per, None
        terms = self._pool_terms(w, ry, total)
        shape = (len(uw), *w.shape[1:])
        w, terms = np.broadcast_to(w, shape), np.broadcast_to(terms, shape)
        pooled, loo, shared_w = self._pooled_and_loo(terms, w, uw)
        return per, (self._paired(loo, pooled, shared_w), (shared_w > 0).sum(-1))

    def _finish(self, sums, uw):
        per, bounds = sums
        if self.method in SHARED_RANK_METHODS:
            per = finish_correlation(self.method, *per)
        evals = _weighted_mean(per, uw[:, None, :])
        if bounds is None:
            return evals, None, None, None
        (lower, upper), support = bounds
        if self.method in SHARED_RANK_METHODS:
            lower, upper = (self._finish_ranks(*paired) for paired in (lower, upper))
        return evals, lower, upper, support

    def _per_participant(self, rows, w, ry, total):
        """Every model against every participant (1 or b, n_models, n_participants) under the
        pair weights `rows` (a `PairWeightChunk`; for Spearman and rho-a: the `cross_sums` of
        the ranks); kept by what defines the weights, because a dual bootstrap runs the same
        stimulus draws twice (with and without resampling participants)."""
        kind, source = rows.key()
        key = _digest(source, np.array(kind))
        per = self._per_cache.get(key)
        if per is not None:
            return per
        if self.method == "tau-a":
            per = tau_a_rows(
                self.models_at[None], self.values[None, None], w[:, None], self.value_codes
            )
        elif self.method == "pearson":
            ty = np.broadcast_to(self.values[None], w.shape)
            tx = np.broadcast_to(self.models_at[None], (len(w), *self.models_at.shape))
            per = cross_correlate(self.method, tx, ty, w, total)
        else:
            per = cross_sums(self.x_ranker.ranks(w[:, None]), ry, w, total)
        self._per_cache[key] = per
        return per

    def _pool_terms(self, w, ry, total):
        """`SparseEngine._pool_terms` on the cells: z-scores, or mid-ranks rescaled to (0, 1)."""
        if self.method == "pearson":
            return zscore_weighted(self.values[None], w)
        with np.errstate(invalid="ignore", divide="ignore"):  # no pairs: no ranks
            ranks = (ry - 0.5) / total[..., None]
        return np.where(w > 0, ranks, 0.0)

    def _pooled_and_loo(self, terms, w, u):
        """`analysis.evaluation._pooled_and_loo` with the sums over participants scattered
        into the observed pairs (participant order kept, so the sums are the same floats)
        and gathered back per cell: pooled and leave-one-out values (b, n_p, width) and the
        weights of the cells some other drawn participant also has."""
        b = w.shape[0]
        present = ((w > 0) & ~np.isnan(terms)).astype(float)
        terms = np.nan_to_num(terms)
        bins = (self.slot[None] + (np.arange(b) * self.n_observed)[:, None, None]).ravel()
        size = b * self.n_observed
        u3 = u[..., None]
        sums = np.bincount(bins, weights=(u3 * terms).ravel(), minlength=size)
        dens = np.bincount(bins, weights=(u3 * present).ravel(), minlength=size)
        sums = sums.take(bins).reshape(w.shape)
        dens = dens.take(bins).reshape(w.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = sums / dens
            loo_dens = dens - u3 * present
            loo = (sums - u3 * terms) / loo_dens
        return pooled, loo, np.where(loo_dens > 0, w, 0.0)

    def _paired(self, loo, pooled, w):
        """Each participant against its leave-one-out and its pooled reference (b, n_p,
        width) on the cells weighted in w: (lower, upper); for Spearman and rho-a the sums
        `_finish_ranks` takes."""
        data = np.where(w > 0, self.values[None], 0.0)
        if self.method == "tau-a":  # both references on one compaction and one coding of data
            references = [np.where(w > 0, r, 0.0) for r in (loo, pooled)]
            return tuple(tau_a_rows_against(references, data, w, self.value_codes))
        if self.method == "pearson":
            return tuple(paired_pearson(r, data, w) for r in (loo, pooled))
        # ranks: drop the cells without weight (most of them in a stimulus draw), then one
        # sort per row of each reference against the data's mid-ranks (exact sums)
        y = self.y_ranker.ranks(w)
        kept = _compact(w.reshape(-1, w.shape[-1]) > 0, w, y, loo, pooled)
        w, y, loo, pooled = kept
        n = w.sum(1)
        square_mid = n * ((n + 1.0) / 2.0) ** 2
        var_y = np.einsum("rl,rl,rl->r", w, y, y) - square_mid
        out = []
        for reference in (loo, pooled):
            sum_wry, sum_wr2 = ranked_cross_sums(reference, w, y)
            cov, var_r = sum_wry - square_mid, sum_wr2 - square_mid
            out.append((cov, var_r, var_y, n, data.shape[:2]))
        return tuple(out)

    def _finish_ranks(self, cov, var_r, var_y, n, shape):
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.method == "rho-a":
                stat = 12.0 * cov / (n**3 - n)
            else:
                stat = cov / np.sqrt(var_r * var_y)
        return np.where(n >= 2, stat, np.nan).reshape(shape)


def _compact(keep: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Rows (R, L) of each array (any shape ending in L, R rows in all) with only the entries
    in `keep`, moved to the front and padded with zeros to the longest row."""
    position = np.cumsum(keep, axis=1) - 1
    width = max(int(position[:, -1].max(initial=0)) + 1, 1)
    rows, columns = np.nonzero(keep)
    target = (rows, position[rows, columns])
    out = []
    for a in arrays:
        a = a.reshape(keep.shape)
        compact = np.zeros((len(keep), width), dtype=a.dtype)
        compact[target] = a[rows, columns]
        out.append(compact)
    return out
