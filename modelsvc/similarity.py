"""Dissimilarity matrices between stimuli from embeddings, with stimulus ids attached.

Metrics (scipy.spatial.distance.pdist): ``"correlation"`` (1 - Pearson r, the default),
``"cosine"`` (1 - cosine similarity), ``"euclidean"``. Computed in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist, squareform

from modelsvc.validation import check_choice

METRICS = ("correlation", "cosine", "euclidean")


@dataclass(frozen=True)
class DissimilarityMatrix:
    """A symmetric (N, N) matrix with zero diagonal, its stimulus ids and how it was made."""

    matrix: np.ndarray
    stimulus_ids: tuple[str, ...]
    metric: str
    layer: str | None = None

    def upper_triangle(self) -> np.ndarray:
        """Entries above the diagonal, row by row (scipy's condensed order)."""
        return squareform(self.matrix, checks=False)


def dissimilarity_matrix(
    features: np.ndarray,
    stimulus_ids: Sequence[str],
    metric: str = "correlation",
    layer: str | None = None,
) -> DissimilarityMatrix:
    """Pairwise dissimilarities between the rows of `features` (N, D)."""
    check_choice("dissimilarity_matrix", "metric", metric, METRICS)
    features = np.asarray(features, dtype=np.float64)
    ids = tuple(str(i) for i in stimulus_ids)
    if features.ndim != 2 or features.shape[0] != len(ids) or len(ids) < 2:
        raise ValueError(
            "The 'features' parameter of dissimilarity_matrix must be (N, D) with N >= 2 "
            f"matching the {len(ids)} stimulus ids; got shape {features.shape}."
        )
    if len(set(ids)) != len(ids):
        raise ValueError("The 'stimulus_ids' parameter of dissimilarity_matrix has duplicates.")
    if metric != "euclidean":
        spread = features.std(axis=1) if metric == "correlation" else np.abs(features).max(axis=1)
        degenerate = [ids[i] for i in np.flatnonzero(spread == 0)]
        if degenerate:
            raise ValueError(
                f"The {metric!r} dissimilarity is undefined for stimuli whose features are "
                f"{'constant' if metric == 'correlation' else 'all zero'}: {degenerate}."
            )
    matrix = squareform(pdist(features, metric=metric))
    return DissimilarityMatrix(matrix, ids, metric, layer)
