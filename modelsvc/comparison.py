"""Comparison of relevance maps between models, per image and summarised.

For every image and pair of models: Spearman rank correlation (scipy's average ranks for
ties), Pearson correlation, and the IoU of the top-k % pixel sets (selected as in
`modelsvc.masking`: exact counts, ties by pixel index). Summary matrices are means over
images. A constant map has no defined correlation: its entries are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from modelsvc.masking import DEFAULT_FRACTIONS, top_fraction_masks
from modelsvc.validation import check_fractions, check_unique_strings
from modelsvc.version import code_version


@dataclass(frozen=True)
class MapComparison:
    """Per image (N) and model pair (M x M): correlations and top-k IoU (K fractions)."""

    models: tuple[str, ...]
    fractions: tuple[float, ...]
    spearman: np.ndarray  # (N, M, M)
    pearson: np.ndarray  # (N, M, M)
    iou: np.ndarray  # (N, M, M, K)

    def summary(self) -> dict[str, np.ndarray]:
        """Means over images (NaN-aware): (M, M) correlations and (M, M, K) IoU."""
        return {
            "spearman": np.nanmean(self.spearman, axis=0),
            "pearson": np.nanmean(self.pearson, axis=0),
            "iou": self.iou.mean(axis=0),
        }

    def record(self) -> dict:
        return {
            "models": list(self.models),
            "fractions": list(self.fractions),
            "code_version": code_version("comparison"),
        }


def compare_maps(
    maps: Mapping[str, np.ndarray], fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> MapComparison:
    """Compare maps (N, H, W) of several models over the same images."""
    names = check_unique_strings("compare_maps", "maps", list(maps))
    fractions = check_fractions("compare_maps", "fractions", fractions)
    shapes = {np.shape(maps[name]) for name in names}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3:
        raise ValueError(
            "The 'maps' parameter of compare_maps must hold arrays of shape (N, H, W) with the "
            f"same shape for every model; got shapes {[np.shape(maps[n]) for n in names]}."
        )
    stacked = np.stack([np.asarray(maps[name], dtype=np.float64) for name in names])
    flat = stacked.reshape(len(names), stacked.shape[1], -1)  # (M, N, P)
    pearson = _pairwise_correlation(flat)
    spearman = _pairwise_correlation(rankdata(flat, axis=-1))
    masks = [top_fraction_masks(torch.from_numpy(m), fractions).flatten(2) for m in stacked]
    iou = np.empty((stacked.shape[1], len(names), len(names), len(fractions)))
    for a, mask_a in enumerate(masks):  # masks: (K, N, P) per model
        for b, mask_b in enumerate(masks):
            inter = (mask_a & mask_b).sum(-1)
            union = (mask_a | mask_b).sum(-1)
            iou[:, a, b, :] = (inter / union).T.numpy()
    return MapComparison(names, fractions, spearman, pearson, iou)


def _pairwise_correlation(flat: np.ndarray) -> np.ndarray:
    """Pearson correlation between models for each image: (M, N, P) -> (N, M, M)."""
    centred = flat - flat.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(centred, axis=-1)  # (M, N)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = centred / norms[..., None]
        unit[norms == 0] = np.nan
    return np.einsum("aip,bip->iab", unit, unit)
