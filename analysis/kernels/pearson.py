"""Pearson (and rho-a, a Pearson of ranks with a fixed denominator) of weighted rows:
z-scoring for pooling, paired rows, and every model row against every data row."""

from __future__ import annotations

import numpy as np


def zscore_weighted(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(x - weighted mean) / weighted SD (ddof 0) along the last axis; rsatoolbox's pooling
    transform for correlation.  Entries with weight 0 are set to 0; rows whose weighted
    entries are all equal (no SD) are NaN."""
    kept = weights > 0
    x = np.where(kept, values, 0.0)
    total = weights.sum(-1, keepdims=True)
    lowest = np.where(kept, values, np.inf).min(-1, keepdims=True)
    constant = lowest == np.where(kept, values, -np.inf).max(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # rows without weight: NaN
        mean = (weights * x).sum(-1, keepdims=True) / total
        centred = np.where(kept, x - mean, 0.0)
        sd = np.sqrt((weights * centred**2).sum(-1, keepdims=True) / total)
        return centred / np.where(constant, np.nan, sd)


def paired_stat(method: str, tx: np.ndarray, ty: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson (or rho-a) of already transformed rows (values or ranks), broadcast.

    For 'spearman' pass ranks; 'rho-a' is 12 * sum w (rx - m)(ry - m) / (N^3 - N).
    """
    tx, ty, w = np.broadcast_arrays(tx, ty, w)
    keep = w > 0
    x = np.where(keep, tx, 0.0)
    y = np.where(keep, ty, 0.0)
    total = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.where(keep, x - (w * x).sum(-1, keepdims=True) / total[..., None], 0.0)
        yc = np.where(keep, y - (w * y).sum(-1, keepdims=True) / total[..., None], 0.0)
        cov = (w * xc * yc).sum(-1)
        if method == "rho-a":
            out = 12.0 * cov / (total**3 - total)
        else:
            out = cov / np.sqrt((w * xc**2).sum(-1) * (w * yc**2).sum(-1))
    return np.where(total >= 2, out, np.nan)


def cross_correlate(
    method: str, tx: np.ndarray, ty: np.ndarray, w: np.ndarray, n_total: np.ndarray
) -> np.ndarray:
    """Pearson / rho-a between every row of `tx` and every row of `ty`, batched.

    tx: (B, M, P) or (B, M, G, P) transformed model vectors (values or ranks), ty: (B, Q, P)
    transformed data vectors, w: (B, G, P) weights with G == 1 (shared) or G == Q (one weight
    row per data vector), n_total: (B, G) sum of weights.  Returns (B, M, Q).
    """
    return finish_correlation(method, *cross_sums(tx, ty, w, n_total))


def cross_sums(tx: np.ndarray, ty: np.ndarray, w: np.ndarray, n_total: np.ndarray) -> tuple:
    """What `cross_correlate` finishes: (cov, var_x, var_y, total), the same for Pearson and
    rho-a of the same rows (and Spearman and rho-a of the same ranks)."""
    shared = w.shape[1] == 1
    wq = w if not shared else w[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):  # rows without weight: NaN
        return _cross_sums(tx, ty, w, wq, shared, n_total)


def finish_correlation(method: str, cov, var_x, var_y, total) -> np.ndarray:
    """The statistic from `cross_sums`: NaN below two pairs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 12.0 * cov / (total**3 - total) if method == "rho-a" else cov / np.sqrt(var_x * var_y)
    return np.where(total >= 2, out, np.nan)


def _cross_sums(tx, ty, w, wq, shared, n_total):
    if shared:
        mean_x = np.einsum("bmp,bp->bm", tx, wq) / n_total
        mean_y = np.einsum("bqp,bp->bq", ty, wq) / n_total
        xc = tx - mean_x[..., None]
        yc = ty - mean_y[..., None]
        xw = xc * wq[:, None, :]
        cov = np.matmul(xw, np.swapaxes(yc, 1, 2))
        var_x = np.einsum("bmp,bmp->bm", xw, xc)[:, :, None]
        var_y = np.einsum("bqp,bqp,bp->bq", yc, yc, wq)[:, None, :]
        total = n_total[:, None, :]
    else:
        mean_x = np.einsum("bmqp,bqp->bmq", tx, w) / n_total[:, None, :]
        mean_y = np.einsum("bqp,bqp->bq", ty, w) / n_total
        xc = tx - mean_x[..., None]
        yc = ty - mean_y[..., None]
        cov = np.einsum("bmqp,bqp,bqp->bmq", xc, yc, w)
        var_x = np.einsum("bmqp,bmqp,bqp->bmq", xc, xc, w)
        var_y = np.einsum("bqp,bqp,bqp->bq", yc, yc, w)[:, None, :]
        total = n_total[:, None, :]
    return cov, var_x, var_y, total
