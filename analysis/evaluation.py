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

A draw is a pair-weight row (stimulus resampling, see `analysis._weighted`) and a
participant-multiplicity row.  With complete data (`DenseEngine`) the statistics reduce to
small matrix algebra: for Pearson, every correlation among participants and models comes from
one Gram matrix per draw, and the pooled and leave-one-out ceilings follow from it without ever
forming a pooled RDM; for the rank statistics, ranks are computed once per draw and
participant, and only the leave-one-out pooled RDMs need a sort.

Beyond rsatoolbox, participants may have missing pairs (sparse designs, `SparseEngine`): every
comparison uses the pairs both sides have, and rank pooling rescales each participant's
mid-ranks to (0, 1) (``(r - 1/2) / N_p``) so participants with different numbers of pairs weigh
the same.  With complete data no rescaling happens, so the numbers equal rsatoolbox's.
"""

from __future__ import annotations

import numpy as np

from analysis._weighted import (
    METHODS,
    SortedRows,
    cross_correlate,
    paired_stat,
    rank_cross_sums,
    rank_half_integers,
    tau_a_rows,
    weighted_ranks,
    zscore_weighted,
)

# elements of the largest temporary array per chunk (keeps peak memory near 100-200 MB)
_CHUNK_ELEMENTS = 2_000_000
# below this many draws per call, the per-pair product matrix does not pay for itself
_PRODUCTS_MIN_DRAWS = 16


def make_engine(models: np.ndarray, data: np.ndarray, method: str) -> Engine:
    """The engine for these arrays: dense when all participants have the same pairs."""
    if method not in METHODS:
        raise ValueError(f"The 'method' parameter must be one of {METHODS}; got {method!r}.")
    models = np.asarray(models, dtype=float)
    data = np.asarray(data, dtype=float)
    if np.isnan(models).any():
        raise ValueError("The 'models' parameter must have no missing (NaN) pairs.")
    mask = ~np.isnan(data)
    if (mask == mask[:1]).all():
        return DenseEngine(models, data, method)
    return SparseEngine(models, data, method)


class Engine:
    """Evaluate models and noise ceilings for many (pair weights, participant weights) draws.

    models: (n_models, n_pairs) dissimilarity vectors without NaN.
    data: (n_participants, n_pairs) participant dissimilarity vectors, NaN where missing.
    """

    rescale_ranks = False

    def __init__(self, models: np.ndarray, data: np.ndarray, method: str) -> None:
        self.method = method
        self.models = models
        self.mask = ~np.isnan(data)
        self.data = np.where(self.mask, data, 0.0)
        self.n_models, self.n_pairs = models.shape
        self.n_participants = data.shape[0]

    def run(
        self, pair_weights: np.ndarray, participant_weights: np.ndarray, ceiling: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluations (B, n_models) and noise ceilings (B, 2: lower, upper) for B draws.

        pair_weights: (B, n_pairs) non-negative integer weights (bootstrap: c_i * c_j).
        participant_weights: (B, n_participants) non-negative integer multiplicities.
        """
        pair_weights = np.asarray(pair_weights, dtype=float)
        participant_weights = np.asarray(participant_weights, dtype=float)
        for name, w in (
            ("pair_weights", pair_weights),
            ("participant_weights", participant_weights),
        ):
            if (w < 0).any() or (w != np.rint(w)).any():
                raise ValueError(f"The {name!r} parameter must hold non-negative integers.")
        n_draws = pair_weights.shape[0]
        evals = np.full((n_draws, self.n_models), np.nan)
        ceilings = np.full((n_draws, 2), np.nan)
        self._prepare(n_draws)
        step = max(1, _CHUNK_ELEMENTS // self._elements_per_draw())
        for start in range(0, n_draws, step):
            part = slice(start, start + step)
            pw, uw = pair_weights[part], participant_weights[part]
            if self.method == "tau-a":
                e, c = self._tau_a_chunk(pw, uw, ceiling)
            else:
                e, c = self._chunk(pw, uw, ceiling)
            evals[part] = e
            ceilings[part] = c
        return evals, ceilings

    # -- shared pieces -------------------------------------------------------------------

    def _prepare(self, n_draws: int) -> None:
        """Hook: precompute what pays off for this many draws."""

    def _elements_per_draw(self) -> int:
        if self.method == "tau-a":  # one row per (model or ceiling, participant)
            return self.n_pairs * self.n_participants * (self.n_models + 2)
        return self.n_pairs * (self.n_participants + self.n_models)

    def _weights(self, pair_weights: np.ndarray) -> np.ndarray:
        """(b, n_participants, P) weights of each participant's pairs in each draw."""
        return pair_weights[:, None, :] * self.mask[None]

    def _chunk(self, pw, uw, ceiling):  # pragma: no cover - abstract
        raise NotImplementedError

    def _pool_terms(self, w: np.ndarray) -> np.ndarray:
        """Each participant's transformed RDM for pooling (b, n_p, P): rsatoolbox's
        ``pool_rdm`` transform (z-scores or mid-ranks)."""
        if self.method == "pearson":
            return zscore_weighted(self.data[None], w)
        ranks = weighted_ranks(np.broadcast_to(self.data, w.shape), w)
        if self.rescale_ranks:
            ranks = (ranks - 0.5) / w.sum(-1, keepdims=True)
        return np.where(w > 0, ranks, 0.0)

    def _tau_a_chunk(self, pw, uw, ceiling):
        """tau-a has no rank-sum form: every comparison counts concordant entry pairs."""
        w = self._weights(pw)
        b = w.shape[0]
        per = tau_a_rows(
            self.models[None, :, None, :], self.data[None, None, :, :], w[:, None, :, :]
        )
        evals = _weighted_mean(per, uw[:, None, :])
        if not ceiling:
            return evals, np.full((b, 2), np.nan)
        pooled, loo, loo_w = _pooled_and_loo(self._pool_terms(w), w, uw)
        drawn = uw > 0
        upper = np.full((b, self.n_participants), np.nan)
        lower = np.full((b, self.n_participants), np.nan)
        ib, ip = np.nonzero(drawn)
        pooled_rows = np.nan_to_num(pooled[ib])
        upper[ib, ip] = tau_a_rows(pooled_rows, self.data[ip], w[ib, ip])
        lower[ib, ip] = tau_a_rows(np.nan_to_num(loo[ib, ip]), self.data[ip], loo_w[ib, ip])
        return evals, _ceiling_means(lower, upper, uw)


class DenseEngine(Engine):
    """All participants have the same pairs: Gram-matrix algebra and shared ranks."""

    def __init__(self, models: np.ndarray, data: np.ndarray, method: str) -> None:
        super().__init__(models, data, method)
        self.shared_mask = self.mask[0].astype(float)
        if method == "pearson":
            # correlations are shift-invariant: centring first avoids cancellation in sums
            self.x = models - models.mean(1, keepdims=True)
            valid = self.mask[0]
            centre = self.data[:, valid].mean(1, keepdims=True) if valid.any() else 0.0
            self.y = np.where(self.mask, self.data - centre, 0.0)
            self.products: np.ndarray | None = None
        else:
            self.x_ranker = SortedRows(models)
            self.y_ranker = SortedRows(np.where(self.mask, data, np.nan))

    def _chunk(self, pw, uw, ceiling):
        w = pw * self.shared_mask
        # draws that only resample participants share one weight row: compute its parts once
        shared = w[:1] if (w == w[:1]).all() else w
        if self.method == "pearson":
            return self._pearson(shared, uw, ceiling)
        return self._ranked(shared, np.broadcast_to(shared, w.shape), uw, ceiling)

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
            return evals, np.full((uw.shape[0], 2), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(var_y)
            corr = cov_yy / (sd[:, :, None] * sd[:, None, :])
            corr_u = np.matmul(corr, uw[:, :, None])[..., 0]
            pooled_var = (uw * corr_u).sum(1)
            upper = corr_u / np.sqrt(pooled_var)[:, None]
            diag = np.einsum("bpp->bp", corr)
            loo_var = pooled_var[:, None] - 2 * uw * corr_u + uw**2 * diag
            lower = (corr_u - uw * diag) / np.sqrt(loo_var)
        return evals, _ceiling_means(lower, upper, uw)

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
            return evals, np.full((n_draws, 2), np.nan)
        if w.shape[0] == 1:
            wf = np.broadcast_to(wf, (n_draws, wf.shape[1]))
            w_int = np.broadcast_to(w_int, wf.shape)
        total_all = np.broadcast_to(total, (n_draws,))
        mid_all = (total_all + 1.0) / 2.0
        var_y_all = np.broadcast_to(var_y, uw.shape)
        # pooled doubled ranks sum_q u_q (2 r_q), from the centred ranks (exact in float64)
        centred = uw @ ryc[0] if ryc.shape[0] == 1 else np.einsum("bq,bqk->bk", uw, ryc)
        pooled2 = np.rint(2 * centred + (uw.sum(1) * (total_all + 1.0))[:, None])
        pooled2 = pooled2.astype(np.int32 if pooled2.max(initial=0) < 2**31 else np.int64)
        order, ranks = rank_half_integers(pooled2 / 2.0, wf)
        pooled_ranks = np.empty_like(ranks)
        np.put_along_axis(pooled_ranks, order, ranks - mid_all[:, None], axis=1)
        cov_up = np.matmul(ryc, (wf * pooled_ranks)[:, :, None])[..., 0]
        var_up = np.einsum("bk,bk,bk->b", wf, pooled_ranks, pooled_ranks)[:, None]
        upper = self._finish(cov_up, var_up, var_y_all, total_all[:, None])
        lower = self._leave_one_out(w_int, uw, ry2, pooled2, var_y_all, total_all)
        return evals, _ceiling_means(lower, upper, uw)

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
    """Participants with different missing pairs: every comparison on its own pair set."""

    rescale_ranks = True

    def __init__(self, models: np.ndarray, data: np.ndarray, method: str) -> None:
        super().__init__(models, data, method)
        if method != "pearson":
            self.y_ranker = SortedRows(np.where(self.mask, data, np.nan))
            # one model ranking per participant's set of pairs
            self.x_ranker = SortedRows(
                np.broadcast_to(models[:, None, :], (self.n_models, *data.shape))
            )

    def _elements_per_draw(self) -> int:
        return self.n_pairs * self.n_participants * (self.n_models + 2)

    def _chunk(self, pw, uw, ceiling):
        w = self._weights(pw)
        total = w.sum(-1)
        b = w.shape[0]
        if self.method == "pearson":
            ty = np.broadcast_to(self.data[None], w.shape)
            tx = np.broadcast_to(
                self.models[None, :, None, :], (b, self.n_models, *self.data.shape)
            )
        else:
            ty = self.y_ranker.ranks(w)
            tx = self.x_ranker.ranks(w[:, None])
        per = cross_correlate(self.method, tx, ty, w, total)
        evals = _weighted_mean(per, uw[:, None, :])
        if not ceiling:
            return evals, np.full((b, 2), np.nan)
        pooled, loo, loo_w = _pooled_and_loo(self._pool_terms(w), w, uw)
        data = np.broadcast_to(self.data[None], w.shape)
        upper = self._paired(np.broadcast_to(pooled[:, None], w.shape), data, w)
        lower = self._paired(loo, data, loo_w)
        return evals, _ceiling_means(lower, upper, uw)

    def _paired(self, pooled: np.ndarray, data: np.ndarray, w: np.ndarray) -> np.ndarray:
        pooled = np.where(w > 0, pooled, 0.0)
        if self.method == "pearson":
            return paired_stat("pearson", pooled, data, w)
        return paired_stat(self.method, weighted_ranks(pooled, w), weighted_ranks(data, w), w)


def _drop_unweighted(w: np.ndarray, *stacks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep, per draw, only the pairs with weight > 0 (padded with weight-0 entries to the
    longest draw); `stacks` are (b, rows, P) arrays compacted the same way."""
    nonzero = w > 0
    width = max(int(nonzero.sum(1).max()), 1)
    if width == w.shape[1]:
        return (w, *stacks)
    keep = np.argsort(~nonzero, axis=1, kind="stable")[:, :width]
    out = [np.take_along_axis(w, keep, axis=1)]
    out += [np.take_along_axis(a, keep[:, None, :], axis=2) for a in stacks]
    return tuple(out)


def _pooled_and_loo(
    terms: np.ndarray, w: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled RDM per draw (b, P), leave-one-out RDMs (b, n_p, P) and their weights."""
    present = (w > 0).astype(float)
    sums = np.einsum("bq,bqp->bp", u, terms)
    dens = np.einsum("bq,bqp->bp", u, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = sums / dens
        loo_dens = dens[:, None, :] - u[..., None] * present
        loo = (sums[:, None, :] - u[..., None] * terms) / loo_dens
    loo_w = np.where(loo_dens > 0, w, 0.0)
    return pooled, loo, loo_w


def _ceiling_means(lower: np.ndarray, upper: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Average the per-participant bounds over the distinct participants in each draw."""
    drawn = u > 0
    n_drawn = drawn.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower_mean = np.where(drawn, lower, 0.0).sum(1) / n_drawn
        upper_mean = np.where(drawn, upper, 0.0).sum(1) / n_drawn
    lower_mean[n_drawn < 2] = np.nan
    return np.stack([lower_mean, upper_mean], axis=1)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over the last axis with weights, ignoring NaN values."""
    ok = ~np.isnan(values)
    wsum = np.where(ok, weights, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, values * weights, 0.0).sum(-1) / wsum
