"""Orderings and 2-D maps of a dissimilarity matrix for figures."""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from analysis.matrices import SimilarityMatrix


def filled(matrix: SimilarityMatrix) -> tuple[np.ndarray, int]:
    """Dissimilarities with missing pairs set to the mean observed value (for layout only)
    and the number of pairs filled."""
    d = matrix.dissimilarity().values.copy()
    missing = np.isnan(d)
    np.fill_diagonal(missing, False)
    if missing.all() or (~missing).sum() <= d.shape[0]:
        raise ValueError("The 'matrix' parameter of filled must have observed pairs; got none.")
    off = ~np.eye(len(d), dtype=bool)
    d[missing] = np.nanmean(d[off])
    np.fill_diagonal(d, 0.0)
    return d, int(missing.sum() // 2)


def cluster_order(matrix: SimilarityMatrix) -> np.ndarray:
    """Leaf order of average-linkage clustering with optimal leaf ordering (scipy)."""
    d, _ = filled(matrix)
    if len(d) < 3:
        return np.arange(len(d))
    d = d - min(0.0, float(d.min()))  # linkage needs non-negative distances
    np.fill_diagonal(d, 0.0)
    tree = linkage(squareform(d, checks=False), method="average", optimal_ordering=True)
    return leaves_list(tree)


def classical_mds(matrix: SimilarityMatrix, n_dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS: top eigenvectors of the double-centred squared
    dissimilarities.  Written out (a few lines of numpy) because scikit-learn is not a runtime
    dependency; signs are fixed so the largest |coordinate| of each axis is positive, making
    the map reproducible."""
    d, _ = filled(matrix)
    d = d - min(0.0, float(d.min()))
    n = len(d)
    centre = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * centre @ (d**2) @ centre
    values, vectors = np.linalg.eigh(b)
    top = np.argsort(values)[::-1][:n_dims]
    coords = vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))
    flip = np.sign(coords[np.argmax(np.abs(coords), axis=0), np.arange(coords.shape[1])])
    return coords * np.where(flip == 0, 1.0, flip)
