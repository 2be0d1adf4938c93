"""Model evaluation against participants and noise ceilings, batched over resampling draws.

Semantics follow rsatoolbox 0.3.2 (``eval_fixed`` / ``eval_bootstrap*`` / ``boot_noise_ceiling``)
so the numbers are the same on the same data:

* a model's evaluation is the mean, over participants, of the comparison between the model RDM
  and that participant's RDM (participants drawn twice in a bootstrap count twice);
* the upper noise ceiling compares each participant with the pooled RDM of all participants,
  the lower one with the pooled RDM of all *other* participants (leave-one-participant-out;
  all copies of a resampled participant are left out together); both are averaged over the
  distinct participants;
* pooling is the average that maximises the statistic: z-scored RDMs for Pearson, mid-ranks for
  the rank statistics.

A draw is a pair-weight row (stimulus resampling, see `analysis.kernels`) and a
participant-multiplicity row.  With complete data (`DenseEngine`) the statistics reduce to
small matrix algebra: for Pearson, every correlation among participants and models comes from
one Gram matrix per draw, and the pooled and leave-one-out ceilings follow from it without ever
forming a pooled RDM; for the rank statistics, ranks are computed once per draw and
participant, and only the leave-one-out pooled RDMs need a sort.

Beyond rsatoolbox, participants may have missing pairs (sparse designs; `make_engine` uses
`analysis.cell_engine.CellEngine`, which works on the observed cells only; `SparseEngine`, on
participants x all pairs, is the reference it is tested and benchmarked against): every
comparison uses the pairs both sides have, and rank pooling rescales each participant's
mid-ranks to (0, 1) (``(r - 1/2) / N_p``) so participants with different numbers of pairs weigh
the same.  With complete data no rescaling happens, so the numbers equal rsatoolbox's.

Noise ceilings in sparse designs.  A participant's bounds are computed on the pairs that the
participant *and at least one other participant* judged ("shared pairs"), both of them:
on a pair nobody else judged the leave-one-out reference is undefined and the all-participants
reference is the participant's own value, so including such pairs would make the upper bound
approach 1 by construction (in a design where participants share few pairs it was 0.98 while
the lower bound was undefined).  On the shared pairs the usual ordering holds: the reference
without the participant is a noisy estimate of the population matrix (lower bound), the one
with the participant shares its noise (upper bound).  A participant with fewer than
`min_pairs` shared pairs, or whose statistic is undefined there (e.g. a constant vector for
Pearson / Spearman), is left out of both bounds; the means are over the participants that
remain, and `Engine.participant_bounds` says who they are.  With complete data every pair is
shared, so nothing changes with respect to rsatoolbox.
"""

from __future__ import annotations

import hashlib

import numpy as np

from analysis.kernels import (
    METHODS,
    SortedRows,
    cross_correlate,
    dense_codes,
    paired_stat,
    rank_cross_sums,
    rank_half_integers,
    tau_a_codes,
    tau_a_one_x,
    tau_a_rows,
    weighted_ranks,
    zscore_weighted,
)
from analysis.kernels.cell_weights import cell_weights
from analysis.matrices import ParticipantMatrices, upper_indices

# elements of the largest temporary array per chunk (keeps peak memory near 100-200 MB)
_CHUNK_ELEMENTS = 2_000_000
# below this many draws per call, the per-pair product matrix does not pay for itself
_PRODUCTS_MIN_DRAWS = 16
# fewest shared pairs on which a participant's noise-ceiling bounds are computed
MIN_CEILING_PAIRS = 3


def make_engine(
    models: np.ndarray,
    data: np.ndarray | ParticipantMatrices,
    method: str,
    min_pairs: int = MIN_CEILING_PAIRS,
    rank_sums=None,
) -> Engine:
    """The engine for these participants: dense when all of them have the same pairs, else
    `CellEngine` on the observed cells.  `data`: (n_participants, n_pairs) vectors with NaN
    where missing, or `ParticipantMatrices` (their values; never made dense when sparse).
    `rank_sums`: a `analysis.cell_engine.RankSums` shared by a Spearman and a rho-a engine of
    the same data (used by `CellEngine` only)."""
    from analysis.cell_engine import CellEngine  # builds on Engine, defined below

    if method not in METHODS:
        raise ValueError(f"The 'method' parameter must be one of {METHODS}; got {method!r}.")
    models = np.asarray(models, dtype=float)
    if np.isnan(models).any():
        raise ValueError("The 'models' parameter must have no missing (NaN) pairs.")
    if isinstance(data, ParticipantMatrices):
        n_participants = data.n_participants
        cells = (data.participant_index, data.pair_index, data.sums / data.counts)
    else:
        data = np.asarray(data, dtype=float)
        n_participants = data.shape[0]
        participant, pair = np.nonzero(~np.isnan(data))
        cells = (participant, pair, data[participant, pair])
    # each participant has a pair at most once: all have the same pairs iff every participant
    # has every pair that anyone has
    if len(cells[0]) == n_participants * len(np.unique(cells[1])):
        if isinstance(data, ParticipantMatrices):
            data = data.vectors()
        return DenseEngine(models, data, method, min_pairs)
    return CellEngine(models, cells, n_participants, method, min_pairs, rank_sums)


class PairWeightRows:
    """The (B, n_pairs) pair weights c_i * c_j of B stimulus draws, made a chunk of rows at a
    time: with 1,000 stimuli, 1,000 draws of all 499,500 pairs would be a 4 GB array.

    counts: (B, n_stimuli) how often each stimulus is in each draw (non-negative integers).
    """

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=float)
        if counts.ndim != 2 or (counts < 0).any() or (counts != np.rint(counts)).any():
            raise ValueError("The 'counts' parameter must be (B, n) non-negative integers.")
        self.counts = counts
        self.rows, self.cols = upper_indices(counts.shape[1])
        self.shape = (counts.shape[0], len(self.rows))

    def __getitem__(self, draws: slice) -> np.ndarray:
        return self.chunk(draws).at(slice(None))

    def chunk(self, draws: slice) -> PairWeightChunk:
        return PairWeightChunk(self.counts[draws], self.rows, self.cols, "counts")


class PairWeightChunk:
    """The pair weights of a chunk of draws, made only for the pairs asked for: from the
    draws' stimulus counts (`PairWeightRows.chunk`) or from given rows (`of_rows`).  An
    engine that needs few pairs (`CellEngine`: the observed cells) takes those, keyed by
    what defines them (at 1,000 stimuli: 1,000 counts per draw, not 499,500 weights)."""

    def __init__(self, source: np.ndarray, rows, cols, kind: str) -> None:
        self.source, self.rows, self.cols, self.kind = source, rows, cols, kind

    @classmethod
    def of_rows(cls, weights: np.ndarray) -> PairWeightChunk:
        return cls(weights, None, None, "rows")

    def at(self, pairs) -> np.ndarray:
        """The weights of `pairs` (an index of the pairs, any shape): (b, *its shape)."""
        if self.kind == "rows":
            return self.source[:, pairs]
        return self.source[:, self.rows[pairs]] * self.source[:, self.cols[pairs]]

    def at_cells(self, pairs: np.ndarray, stimuli: tuple, real: np.ndarray) -> np.ndarray:
        """``at(pairs) * real``: the weights (b, n_participants, width) of cells holding
        `pairs`, whose stimuli are `stimuli` (the pairs' rows and columns), 0 where `real` is
        False; draws' stimulus counts are read in one compiled pass (`cell_weights`)."""
        if self.kind == "rows":
            return self.source[:, pairs] * real
        out = np.empty((len(self.source), *pairs.shape))
        cell_weights(np.ascontiguousarray(self.source), *stimuli, real, out)
        return out

    def first_if_all_equal(self) -> PairWeightChunk:
        """This chunk's first draw alone when every draw is that draw, else the chunk."""
        same = (self.source == self.source[:1]).all()
        return PairWeightChunk(self.source[:1], self.rows, self.cols, self.kind) if same else self

    def key(self) -> tuple[str, np.ndarray]:
        return self.kind, self.source


class Engine:
    """Evaluate models and noise ceilings for many (pair weights, participant weights) draws.

    models: (n_models, n_pairs) dissimilarity vectors without NaN.
    data: (n_participants, n_pairs) participant dissimilarity vectors, NaN where missing.
    min_pairs: fewest shared pairs behind a participant's noise-ceiling bounds.
    """

    rescale_ranks = False

    def __init__(
        self, models: np.ndarray, data: np.ndarray, method: str, min_pairs: int = MIN_CEILING_PAIRS
    ) -> None:
        self._setup(models, data.shape[0], method, min_pairs)
        self.mask = ~np.isnan(data)
        self.data = np.where(self.mask, data, 0.0)

    def _setup(self, models: np.ndarray, n_participants: int, method: str, min_pairs: int) -> None:
        if min_pairs < 2:
            raise ValueError(f"The 'min_pairs' parameter must be at least 2; got {min_pairs}.")
        self.min_pairs = min_pairs
        self.method = method
        self.models = models
        self.n_models, self.n_pairs = models.shape
        self.n_participants = n_participants

    def run(
        self, pair_weights: np.ndarray, participant_weights: np.ndarray, ceiling: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluations (B, n_models) and noise ceilings (B, 2: lower, upper) for B draws.

        pair_weights: (B, n_pairs) non-negative integer weights (bootstrap: c_i * c_j), or
            `PairWeightRows` that make them a chunk of draws at a time.
        participant_weights: (B, n_participants) non-negative integer multiplicities.
        """
        participant_weights = np.asarray(participant_weights, dtype=float)
        checked = [("participant_weights", participant_weights)]
        if not isinstance(pair_weights, PairWeightRows):
            pair_weights = np.asarray(pair_weights, dtype=float)
            checked.append(("pair_weights", pair_weights))
        for name, w in checked:
            if (w < 0).any() or (w != np.rint(w)).any():
                raise ValueError(f"The {name!r} parameter must hold non-negative integers.")
        evals, lower, upper = self._bounds(pair_weights, participant_weights, ceiling)
        return evals, _ceiling_means(lower, upper, participant_weights)

    def participant_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each participant's (lower, upper) bound on the full data and the number of shared
        pairs behind them; NaN where a participant is left out (see module docstring)."""
        ones = np.ones((1, self.n_participants))
        _, lower, upper = self._bounds(np.ones((1, self.n_pairs)), ones, ceiling=True)
        return lower[0], upper[0], self.shared_pairs()

    def shared_pairs(self) -> np.ndarray:
        """Per participant: the pairs that at least one other participant also has."""
        observed = self.mask.astype(np.int64)
        others = observed.sum(0) - observed
        return (observed * (others > 0)).sum(1)

    def _bounds(self, pair_weights, participant_weights, ceiling):
        """Evaluations (B, n_models) and per-participant bounds (B, n_participants) each."""
        n_draws = pair_weights.shape[0]
        evals = np.full((n_draws, self.n_models), np.nan)
        lower = np.full((n_draws, self.n_participants), np.nan)
        upper = np.full((n_draws, self.n_participants), np.nan)
        self._prepare(n_draws)
        step = max(1, _CHUNK_ELEMENTS // self._elements_per_draw())
        for start in range(0, n_draws, step):
            part = slice(start, start + step)
            e, lo, up, support = self._chunk(
                self._chunk_weights(pair_weights, part), participant_weights[part], ceiling
            )
            evals[part] = e
            if ceiling:
                enough = support >= self.min_pairs
                lower[part] = np.where(enough, lo, np.nan)
                upper[part] = np.where(enough, up, np.nan)
        return evals, lower, upper

    # -- shared pieces -------------------------------------------------------------------

    def _prepare(self, n_draws: int) -> None:
        """Hook: precompute what pays off for this many draws."""

    def _chunk_weights(self, pair_weights, part: slice):
        """Hook: the pair weights of a chunk of draws as `_chunk` takes them."""
        return pair_weights[part]

    def _elements_per_draw(self) -> int:
        if self.method == "tau-a":  # one row per (model or ceiling, participant)
            return self.n_pairs * self.n_participants * (self.n_models + 2)
        return self.n_pairs * (self.n_participants + self.n_models)

    def _chunk(self, pw, uw, ceiling):  # pragma: no cover - abstract
        """(evals (b, n_models), lower, upper, shared-pair counts (b, n_participants))."""
        raise NotImplementedError


class DenseEngine(Engine):
    """All participants have the same pairs: Gram-matrix algebra and shared ranks."""

    def __init__(
        self, models: np.ndarray, data: np.ndarray, method: str, min_pairs: int = MIN_CEILING_PAIRS
    ) -> None:
        super().__init__(models, data, method, min_pairs)
        self.shared_mask = self.mask[0].astype(float)
        if method == "pearson":
            # correlations are shift-invariant: centring first avoids cancellation in sums
            self.x = models - models.mean(1, keepdims=True)
            valid = self.mask[0]
            centre = self.data[:, valid].mean(1, keepdims=True) if valid.any() else 0.0
            self.y = np.where(self.mask, self.data - centre, 0.0)
            self.products: np.ndarray | None = None
        elif method == "tau-a":  # order codes, fixed for all draws
            everywhere = np.ones(models.shape, dtype=bool)
            self.model_codes, _ = dense_codes(models, everywhere)
            self.model_order = np.argsort(self.model_codes, axis=1, kind="stable")
            data_codes, levels = dense_codes(self.data, self.mask)
            self.n_levels = int(levels.max(initial=1))
            self.data_levels = data_codes.astype(np.intp)
            small = np.int8 if self.n_levels <= 127 else np.intp
            self.data_levels_t = np.ascontiguousarray(data_codes.T, dtype=small)
            self._tau_a_cache: dict[bytes, np.ndarray] = {}
        else:
            self.x_ranker = SortedRows(models)
            self.y_ranker = SortedRows(np.where(self.mask, data, np.nan))

    def _chunk(self, pw, uw, ceiling):
        w = pw * self.shared_mask
        # draws that only resample participants share one weight row: compute its parts once
        shared = w[:1] if (w == w[:1]).all() else w
        support = np.broadcast_to((w > 0).sum(1)[:, None], uw.shape)
        if self.n_participants < 2:
            support = np.zeros(uw.shape, dtype=np.int64)  # nothing to share pairs with
        if self.method == "pearson":
            out = self._pearson(shared, uw, ceiling)
        elif self.method == "tau-a":
            out = self._tau_a(shared, uw, ceiling)
        else:
            out = self._ranked(shared, np.broadcast_to(shared, w.shape), uw, ceiling)
        return (*out, support)

    def _prepare(self, n_draws: int) -> None:
        if self.method == "pearson" and self.products is None and n_draws >= _PRODUCTS_MIN_DRAWS:
            self.products = self._pair_products()

    def _elements_per_draw(self) -> int:
        if self.method == "pearson" and self.products is not None and self.products.size:
            return 2 * self.n_pairs  # a weight row and a few sums per draw
        return super()._elements_per_draw()

    def _pair_products(self) -> np.ndarray:
        """Per pair: y_p y_q (p <= q), y_p x_m, x_m^2, y_p, x_m -- so that every weighted sum a
        draw needs is one product ``w @ products``.  Empty when that matrix would be large."""
        n_p, n_m = self.n_participants, self.n_models
        n_cols = n_p * (n_p + 1) // 2 + n_p * n_m + 2 * n_m + n_p
        if n_cols * self.n_pairs > 32_000_000:
            return np.empty((0, 0))  # too large: use the per-draw products instead
        p, q = np.triu_indices(n_p)
        return np.concatenate(
            [
                (self.y[p] * self.y[q]).T,
                np.einsum("pk,mk->kpm", self.y, self.x).reshape(-1, n_p * n_m),
                (self.x**2).T,
                self.y.T,
                self.x.T,
            ],
            axis=1,
        )

    def _weighted_sums(self, w):
        """(sum_y, gram, cross, sum_x, sum_xx) of the weighted data for each row of w."""
        b, n_p, n_m = w.shape[0], self.n_participants, self.n_models
        if self.products is None or self.products.size == 0:
            yw = w[:, None, :] * self.y[None]  # (b, n_p, P)
            gram = (yw.reshape(b * n_p, -1) @ self.y.T).reshape(b, n_p, n_p)
            cross = (yw.reshape(b * n_p, -1) @ self.x.T).reshape(b, n_p, n_m)
            return yw.sum(2), gram, cross, w @ self.x.T, w @ (self.x**2).T
        sums = w @ self.products
        n_gram = n_p * (n_p + 1) // 2
        p, q = np.triu_indices(n_p)
        gram = np.empty((b, n_p, n_p))
        gram[:, p, q] = sums[:, :n_gram]
        gram[:, q, p] = sums[:, :n_gram]
        at = n_gram + n_p * n_m
        cross = sums[:, n_gram:at].reshape(b, n_p, n_m)
        sum_xx = sums[:, at : at + n_m]
        sum_y = sums[:, at + n_m : at + n_m + n_p]
        sum_x = sums[:, at + n_m + n_p :]
        return sum_y, gram, cross, sum_x, sum_xx

    def _pearson(self, w, uw, ceiling):
        """w: (1 or b, P) -- with one row, every draw shares the Gram matrix."""
        total = w.sum(1)
        sum_y, gram, cross, sum_x, sum_xx = self._weighted_sums(w)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov_yy = gram - sum_y[:, :, None] * sum_y[:, None, :] / total[:, None, None]
            cov_xy = cross - sum_y[:, :, None] * sum_x[:, None, :] / total[:, None, None]
            var_x = sum_xx - sum_x**2 / total[:, None]
            var_y = np.einsum("bpp->bp", cov_yy)
            per = np.swapaxes(cov_xy, 1, 2) / np.sqrt(var_x[:, :, None] * var_y[:, None, :])
        evals = _weighted_mean(per, uw[:, None, :])
        if not ceiling:
            return evals, None, None
        # a participant constant on this draw's pairs cannot be z-scored: like rsatoolbox's
        # NaN-mean pooling, leave it out of the pooled matrices; it gets no bounds itself
        defined = var_y > 1e-12 * np.einsum("bpp->bp", gram)
        u_pool = np.where(defined, uw, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.where(defined, var_y, np.nan))
            corr = np.nan_to_num(cov_yy / (sd[:, :, None] * sd[:, None, :]))
            corr_u = np.matmul(corr, u_pool[:, :, None])[..., 0]
            pooled_var = (u_pool * corr_u).sum(1)
            upper = corr_u / np.sqrt(pooled_var)[:, None]
            diag = np.einsum("bpp->bp", corr)
            loo_var = pooled_var[:, None] - 2 * u_pool * corr_u + u_pool**2 * diag
            lower = (corr_u - u_pool * diag) / np.sqrt(loo_var)
        return evals, np.where(defined, lower, np.nan), np.where(defined, upper, np.nan)

    def _ranked(self, w, w_all, uw, ceiling):
        """w: (1 or b, P) weights to rank under; w_all: the same, one row per draw.

        Ranks are kept doubled as exact int64 (2 x mid-rank), so pooled sums and leave-one-out
        differences stay exact integers all the way into the sort keys.
        """
        w_int = np.rint(w).astype(np.int64)
        total = w_int.sum(1)
        mid2 = total + 1  # 2 x the weighted mean of the mid-ranks
        ry2 = self.y_ranker.doubled_ranks(w_int)  # (1 or b, n_p, P)
        rx2 = self.x_ranker.doubled_ranks(w_int)  # (1 or b, n_m, P)
        if w.shape[0] > 1:
            # a stimulus bootstrap draw gives weight 0 to about 60 % of the pairs (those of
            # undrawn stimuli): drop them once, every later step works on the rest
            w_int, ry2, rx2 = _drop_unweighted(w_int, ry2, rx2)
        wf = w_int.astype(float)
        ryc = (ry2 - mid2[:, None, None]) * 0.5  # centred mid-ranks
        rxc = (rx2 - mid2[:, None, None]) * 0.5
        var_y = np.einsum("bpk,bpk,bk->bp", ryc, ryc, wf)
        rxw = rxc * wf[:, None, :]
        var_x = np.einsum("bmk,bmk->bm", rxw, rxc)
        cov = np.matmul(rxw, np.swapaxes(ryc, 1, 2))  # (b, n_m, n_p)
        total = total.astype(float)
        per = self._finish(cov, var_x[:, :, None], var_y[:, None, :], total[:, None, None])
        evals = _weighted_mean(per, uw[:, None, :])
        n_draws = uw.shape[0]
        if not ceiling:
            return evals, None, None
        if w.shape[0] == 1:
            wf = np.broadcast_to(wf, (n_draws, wf.shape[1]))
            w_int = np.broadcast_to(w_int, wf.shape)
        total_all = np.broadcast_to(total, (n_draws,))
        mid_all = (total_all + 1.0) / 2.0
        var_y_all = np.broadcast_to(var_y, uw.shape)
        pooled2 = _pooled_doubled_ranks(ryc, uw, total_all)
        order, ranks = rank_half_integers(pooled2 / 2.0, wf)
        pooled_ranks = np.empty_like(ranks)
        np.put_along_axis(pooled_ranks, order, ranks - mid_all[:, None], axis=1)
        cov_up = np.matmul(ryc, (wf * pooled_ranks)[:, :, None])[..., 0]
        var_up = np.einsum("bk,bk,bk->b", wf, pooled_ranks, pooled_ranks)[:, None]
        upper = self._finish(cov_up, var_up, var_y_all, total_all[:, None])
        lower = self._leave_one_out(w_int, uw, ry2, pooled2, var_y_all, total_all)
        return evals, lower, upper

    def _tau_a(self, w, uw, ceiling):
        """w: (1 or b, P) -- with one row, every draw shares the model-participant values.

        Models are compared in their fixed order with every participant at once
        (`tau_a_one_x` on the dense codes).  The ceilings compare participants with the pooled
        doubled ranks sum_q u_q 2 r_q (shared by the draw's participants, `tau_a_one_x`) and
        their leave-one-out differences (one per participant, `tau_a_codes`), exact integers
        as in `_ranked`; a participant's ranks follow from the weight at each of its few
        levels.  Pairs with weight 0 are dropped first (about 60 % of them in a stimulus
        draw)."""
        w_int = np.rint(w).astype(np.int64)
        n_draws = uw.shape[0]
        evals = _weighted_mean(self._tau_a_per_participant(w_int), uw[:, None, :])
        if not ceiling:
            return evals, None, None
        keep = _kept_pairs(w_int)
        w_int = np.take_along_axis(w_int, keep, axis=1)
        y = np.moveaxis(self.data_levels[:, keep], 1, 0)  # (1 or b, n_p, W)
        b = len(w_int)
        ry2 = _doubled_level_ranks(y, w_int, self.n_levels)
        total = w_int.sum(1).astype(float)
        ryc = (ry2 - (total + 1.0)[:, None, None]) * 0.5
        pooled2 = _pooled_doubled_ranks(ryc, uw, np.broadcast_to(total, (n_draws,)))
        pooled2 = pooled2.astype(np.int64)
        ib, ip = np.nonzero(uw > 0)
        src = ib if b > 1 else np.zeros_like(ib)  # the draw's row of the shared arrays
        rows_w, rows_y = w_int[src], y[src, ip]
        lower = np.full(uw.shape, np.nan)
        upper = np.full(uw.shape, np.nan)
        for k in range(n_draws):  # the draw's participants share the pooled ranks
            row = k if b > 1 else 0
            drawn = np.flatnonzero(uw[k] > 0)
            y_t = self.data_levels_t[keep[row]][:, drawn]
            upper[k, drawn] = tau_a_one_x(pooled2[k], w_int[row], y_t, self.n_levels)
        loo2 = pooled2[ib] - np.rint(uw[ib, ip]).astype(np.int64)[:, None] * ry2[src, ip]
        lower[ib, ip] = tau_a_codes(loo2, rows_y, rows_w, self.n_levels)
        lower[uw == uw.sum(1, keepdims=True)] = np.nan  # nobody else drawn: no reference
        return evals, lower, upper

    def _tau_a_per_participant(self, w_int):
        """tau-a of every model with every participant, (b, n_models, n_participants), for
        pair-weight rows `w_int`.  They depend on the pair weights only, so they are kept by
        content: draws that differ only in their participants (one weight row shared by
        every chunk) and a dual bootstrap's stimulus scheme (the combined scheme's draws)
        are not computed twice."""
        key = hashlib.blake2b(w_int.tobytes(), digest_size=16).digest()
        per = self._tau_a_cache.get(key)
        if per is None:
            per = np.empty((len(w_int), self.n_models, self.n_participants))
            for k, m in np.ndindex(per.shape[:2]):
                x, order = self.model_codes[m], self.model_order[m]
                per[k, m] = tau_a_one_x(x, w_int[k], self.data_levels_t, self.n_levels, order)
            self._tau_a_cache[key] = per
        return per

    def _leave_one_out(self, w_int, uw, ry2, pooled2, var_y, total):
        """Each drawn participant against the pooled ranks of the others (one sort each).

        `ry2` (doubled ranks) may hold one row shared by all draws.
        """
        lower = np.full(uw.shape, np.nan)
        u_int = np.rint(uw).astype(pooled2.dtype)  # loo2 stays in the (narrow) pooled type
        unit = bool((w_int == 1).all())  # e.g. resampling participants only, complete data
        rows_b, rows_p = np.nonzero(u_int > 0)
        step = max(1, _CHUNK_ELEMENTS // max(w_int.shape[1], 1))
        for s in range(0, len(rows_b), step):
            ib, ip = rows_b[s : s + step], rows_p[s : s + step]
            y2 = ry2[ib if ry2.shape[0] > 1 else 0, ip]
            loo2 = pooled2[ib] - u_int[ib, ip][:, None] * y2
            weights = w_int[ib]
            sums = rank_cross_sums(loo2, weights, y2, unit=unit)
            if sums is None:  # too large to pack: rank, then gather y into sorted order
                loo2 = pooled2[ib] - u_int[ib, ip][:, None] * y2  # (rank_cross_sums used it)
                order, ranks = rank_half_integers(loo2 / 2.0, weights)
                ws = np.take_along_axis(weights, order, axis=1)
                ys = np.take_along_axis(y2 / 2.0, order, axis=1)
                sums = (ws * ranks * ys).sum(1), (ws * ranks * ranks).sum(1)
            sum_wry, sum_wr2 = sums
            n = total[ib]
            square_mid = n * ((n + 1.0) / 2.0) ** 2
            lower[ib, ip] = self._finish(
                sum_wry - square_mid, sum_wr2 - square_mid, var_y[ib, ip], n
            )
        return lower

    def _finish(self, cov, var_x, var_y, total):
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.method == "rho-a":
                out = 12.0 * cov / (total**3 - total)
            else:
                out = cov / np.sqrt(var_x * var_y)
        return np.where(total >= 2, out, np.nan)


class SparseEngine(Engine):
    """Participants with different missing pairs: every comparison on its own pair set.

    Arrays of (draws, participants, all pairs): the reference for `CellEngine`, which gives
    the same numbers on the observed cells only (tests and benchmarks/analysis.py)."""

    rescale_ranks = True

    def __init__(
        self, models: np.ndarray, data: np.ndarray, method: str, min_pairs: int = MIN_CEILING_PAIRS
    ) -> None:
        super().__init__(models, data, method, min_pairs)
        if method not in ("pearson", "tau-a"):
            self.y_ranker = SortedRows(np.where(self.mask, data, np.nan))
            # one model ranking per participant's set of pairs
            self.x_ranker = SortedRows(
                np.broadcast_to(models[:, None, :], (self.n_models, *data.shape))
            )

    def _elements_per_draw(self) -> int:
        return self.n_pairs * self.n_participants * (self.n_models + 2)

    def _weights(self, pair_weights: np.ndarray) -> np.ndarray:
        """(b, n_participants, P) weights of each participant's pairs in each draw."""
        return pair_weights[:, None, :] * self.mask[None]

    def _pool_terms(self, w: np.ndarray) -> np.ndarray:
        """Each participant's transformed RDM for pooling (b, n_p, P): rsatoolbox's
        ``pool_rdm`` transform (z-scores or mid-ranks)."""
        if self.method == "pearson":
            return zscore_weighted(self.data[None], w)
        ranks = weighted_ranks(np.broadcast_to(self.data, w.shape), w)
        if self.rescale_ranks:
            with np.errstate(invalid="ignore", divide="ignore"):  # no pairs: no ranks
                ranks = (ranks - 0.5) / w.sum(-1, keepdims=True)
        return np.where(w > 0, ranks, 0.0)

    def _chunk(self, pw, uw, ceiling):
        w = self._weights(pw)
        total = w.sum(-1)
        b = w.shape[0]
        if self.method == "tau-a":
            per = tau_a_rows(
                self.models[None, :, None, :], self.data[None, None, :, :], w[:, None, :, :]
            )
        elif self.method == "pearson":
            ty = np.broadcast_to(self.data[None], w.shape)
            tx = np.broadcast_to(
                self.models[None, :, None, :], (b, self.n_models, *self.data.shape)
            )
        else:
            ty = self.y_ranker.ranks(w)
            tx = self.x_ranker.ranks(w[:, None])
        if self.method != "tau-a":
            per = cross_correlate(self.method, tx, ty, w, total)
        evals = _weighted_mean(per, uw[:, None, :])
        if not ceiling:
            return evals, None, None, None
        pooled, loo, shared_w = _pooled_and_loo(self._pool_terms(w), w, uw)
        # both bounds on the shared pairs (see the module docstring)
        data = np.broadcast_to(self.data[None], w.shape)
        upper = self._paired(np.broadcast_to(pooled[:, None], w.shape), data, shared_w)
        lower = self._paired(loo, data, shared_w)
        return evals, lower, upper, (shared_w > 0).sum(-1)

    def _paired(self, pooled: np.ndarray, data: np.ndarray, w: np.ndarray) -> np.ndarray:
        pooled = np.where(w > 0, pooled, 0.0)
        if self.method == "tau-a":
            return tau_a_rows(pooled, np.where(w > 0, data, 0.0), w)
        if self.method == "pearson":
            return paired_stat("pearson", pooled, data, w)
        return paired_stat(self.method, weighted_ranks(pooled, w), weighted_ranks(data, w), w)


def _pooled_doubled_ranks(ryc: np.ndarray, uw: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Pooled doubled ranks sum_q u_q (2 r_q) per draw, from the centred mid-ranks `ryc`
    (1 or b, n_p, P) of draws with `total` weight each (exact in float64)."""
    centred = uw @ ryc[0] if ryc.shape[0] == 1 else np.einsum("bq,bqk->bk", uw, ryc)
    pooled2 = np.rint(2 * centred + (uw.sum(1) * (total + 1.0))[:, None])
    return pooled2.astype(np.int32 if pooled2.max(initial=0) < 2**31 else np.int64)


def _doubled_level_ranks(levels: np.ndarray, w: np.ndarray, n_levels: int) -> np.ndarray:
    """2 x the mid-ranks of rows of level codes (b, n, W) under weights (b, W), as int64:
    an entry at level l ranks 2 x (weight below l) + (weight at l) + 1.  One weighted count
    per (row, level) and one lookup per entry, instead of sorting."""
    b, n = levels.shape[:2]
    cells = (levels + (np.arange(b * n) * n_levels).reshape(b, n, 1)).ravel()
    weights = np.broadcast_to(w[:, None, :], levels.shape).ravel()
    counts = np.bincount(cells, weights=weights, minlength=b * n * n_levels)
    counts = np.rint(counts).astype(np.int64).reshape(b, n, n_levels)
    doubled = 2 * (np.cumsum(counts, axis=2) - counts) + counts + 1
    return doubled.ravel().take(cells).reshape(levels.shape)


def _kept_pairs(w: np.ndarray) -> np.ndarray:
    """Per draw, the columns with weight > 0 (padded with weight-0 columns to the longest
    draw), (b, width)."""
    nonzero = w > 0
    width = max(int(nonzero.sum(1).max()), 1)
    return np.argsort(~nonzero, axis=1, kind="stable")[:, :width]


def _drop_unweighted(w: np.ndarray, *stacks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep, per draw, only the pairs with weight > 0 (padded with weight-0 entries to the
    longest draw); `stacks` are (b, rows, P) arrays compacted the same way."""
    keep = _kept_pairs(w)
    if keep.shape[1] == w.shape[1]:
        return (w, *stacks)
    out = [np.take_along_axis(w, keep, axis=1)]
    out += [np.take_along_axis(a, keep[:, None, :], axis=2) for a in stacks]
    return tuple(out)


def _pooled_and_loo(
    terms: np.ndarray, w: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled RDM per draw (b, P), leave-one-out RDMs (b, n_p, P) and their weights.

    NaN terms (a participant that cannot be z-scored) are left out of the pools."""
    present = ((w > 0) & ~np.isnan(terms)).astype(float)
    terms = np.nan_to_num(terms)
    sums = np.einsum("bq,bqp->bp", u, terms)
    dens = np.einsum("bq,bqp->bp", u, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = sums / dens
        loo_dens = dens[:, None, :] - u[..., None] * present
        loo = (sums[:, None, :] - u[..., None] * terms) / loo_dens
    loo_w = np.where(loo_dens > 0, w, 0.0)
    return pooled, loo, loo_w


def _ceiling_means(lower: np.ndarray, upper: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(B, 2): each bound averaged over the distinct participants of a draw for whom it is
    defined (a NaN bound leaves its participant out instead of making the mean NaN); NaN
    when it is defined for none, and the lower bound also when fewer than 2 were drawn."""
    drawn = u > 0
    means = []
    for bound in (lower, upper):
        ok = drawn & ~np.isnan(bound)
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(ok, bound, 0.0).sum(1) / ok.sum(1))
    means[0][drawn.sum(1) < 2] = np.nan
    return np.stack(means, axis=1)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over the last axis with weights, ignoring NaN values."""
    ok = ~np.isnan(values)
    wsum = np.where(ok, weights, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, values * weights, 0.0).sum(-1) / wsum
