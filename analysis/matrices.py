"""Containers for (dis)similarity matrices that carry their stimulus ids.

Modelled on rsatoolbox's ``RDMs``: a matrix never travels without the ids of its rows, whether
it holds dissimilarities or similarities, and how many observations stand behind each pair.
Missing pairs are NaN *and* have count 0 -- never a silent zero.  Vectors use rsatoolbox's
order: the upper triangle read row by row (``numpy.triu_indices(n, 1)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from analysis._checks import check_choice, fail

Kind = Literal["dissimilarity", "similarity"]
KINDS = ("dissimilarity", "similarity")
POOLINGS = ("count_weighted", "participant_mean")


@cache
def upper_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle (i < j), in rsatoolbox vector order."""
    rows, cols = np.triu_indices(n, 1)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def n_from_pairs(n_pairs: int) -> int:
    """Number of stimuli n for a vector of n*(n-1)/2 pairs (raises if there is none)."""
    n = round((1 + np.sqrt(1 + 8 * n_pairs)) / 2)
    if n * (n - 1) // 2 != n_pairs:
        raise fail("n_from_pairs", "n_pairs", "n*(n-1)/2 for some integer n", n_pairs)
    return n


def vector_to_square(vector: np.ndarray, diagonal: float = 0.0) -> np.ndarray:
    """Symmetric matrices from upper-triangle vectors (last axis), diagonal filled."""
    vector = np.asarray(vector, dtype=float)
    n = n_from_pairs(vector.shape[-1])
    rows, cols = upper_indices(n)
    square = np.full((*vector.shape[:-1], n, n), diagonal, dtype=float)
    square[..., rows, cols] = vector
    square[..., cols, rows] = vector
    return square


def _check_stimuli(func: str, stimuli: Sequence, n: int) -> tuple[str, ...]:
    ids = tuple(str(s) for s in stimuli)
    if len(ids) != n:
        raise fail(func, "stimuli", f"{n} ids (one per row)", f"{len(ids)} ids")
    if len(set(ids)) != n:
        dupes = sorted({s for s in ids if ids.count(s) > 1})
        raise fail(func, "stimuli", "unique ids", f"duplicates {dupes}")
    return ids


def _check_square(func: str, name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim < 2 or values.shape[-1] != values.shape[-2]:
        raise fail(func, name, "square matrices (..., n, n)", f"shape {values.shape}")
    off = ~np.eye(values.shape[-1], dtype=bool)
    sym = np.isclose(values, np.swapaxes(values, -1, -2), rtol=1e-9, atol=1e-12, equal_nan=True)
    if not sym[..., off].all():
        raise fail(func, name, "symmetric", "a matrix with M[i, j] != M[j, i]")
    if np.isinf(values[..., off]).any():
        raise fail(func, name, "finite or NaN (missing) off the diagonal", "infinite values")
    return values


def _check_counts(func: str, counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.shape != values.shape:
        raise fail(func, "counts", f"an array of shape {values.shape}", f"shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise fail(func, "counts", "non-negative numbers of observations", "negative counts")
    counts = counts.astype(np.int64)
    off = ~np.eye(values.shape[-1], dtype=bool)
    unobserved = counts[..., off] == 0
    missing = np.isnan(values[..., off])
    if (unobserved != missing).any():
        raise fail(
            func,
            "counts",
            "0 exactly where values are NaN (missing pairs are explicit)",
            f"{int((unobserved != missing).sum())} mismatched pairs",
        )
    return counts


def _set_diagonal(values: np.ndarray, kind: str) -> np.ndarray:
    """Dissimilarity of a stimulus to itself is 0; self-similarity is not measured (NaN)."""
    values = values.copy()
    idx = np.arange(values.shape[-1])
    values[..., idx, idx] = 0.0 if kind == "dissimilarity" else np.nan
    return values


def _as_dissimilarity_values(func: str, values: np.ndarray) -> np.ndarray:
    """1 - s for similarities that are proportions or probabilities (the only kind we make)."""
    observed = values[~np.isnan(values)]
    if observed.size and (observed.min() < 0 or observed.max() > 1):
        raise fail(
            func,
            "self",
            "a similarity on a 0..1 scale (proportion/probability) to convert as 1 - s",
            f"values in [{observed.min():.3g}, {observed.max():.3g}]",
        )
    return 1.0 - values


@dataclass(frozen=True, eq=False)
class SimilarityMatrix:
    """One symmetric (dis)similarity matrix over named stimuli.

    Attributes:
        values: (n, n) float array; NaN marks a pair without data.
        stimuli: ids of the rows/columns, in order.
        kind: "dissimilarity" or "similarity".
        counts: (n, n) observations behind each pair (None for model matrices, which have
            no missing pairs).
        measure: what the numbers are, e.g. "1 - Pearson" or "proportion kept together".
        name: label used in tables and figures.
    """

    values: np.ndarray
    stimuli: tuple[str, ...]
    kind: Kind = "dissimilarity"
    counts: np.ndarray | None = None
    measure: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        func = "SimilarityMatrix"
        check_choice(func, "kind", self.kind, KINDS)
        values = _check_square(func, "values", self.values)
        if values.ndim != 2:
            raise fail(func, "values", "a 2-D (n, n) array", f"shape {values.shape}")
        object.__setattr__(self, "stimuli", _check_stimuli(func, self.stimuli, values.shape[0]))
        if self.counts is None and np.isnan(values[~np.eye(len(values), dtype=bool)]).any():
            raise fail(func, "counts", "given when values contain missing (NaN) pairs", None)
        if self.counts is not None:
            object.__setattr__(self, "counts", _check_counts(func, self.counts, values))
        object.__setattr__(self, "values", _set_diagonal(values, self.kind))

    @property
    def n_stimuli(self) -> int:
        return len(self.stimuli)

    @property
    def n_missing_pairs(self) -> int:
        """Number of stimulus pairs without any observation."""
        return int(np.isnan(self.upper()).sum())

    def upper(self) -> np.ndarray:
        """The upper triangle as a vector (rsatoolbox order)."""
        rows, cols = upper_indices(self.n_stimuli)
        return self.values[rows, cols]

    def upper_counts(self) -> np.ndarray:
        """Observations per pair, in vector order (ones where the matrix has no counts)."""
        if self.counts is None:
            return np.ones(self.n_stimuli * (self.n_stimuli - 1) // 2, dtype=np.int64)
        rows, cols = upper_indices(self.n_stimuli)
        return self.counts[rows, cols]

    def dissimilarity(self) -> SimilarityMatrix:
        """This matrix as dissimilarities (similarities must be proportions: d = 1 - s)."""
        if self.kind == "dissimilarity":
            return self
        values = _as_dissimilarity_values("SimilarityMatrix.dissimilarity", self.values)
        return SimilarityMatrix(
            values, self.stimuli, "dissimilarity", self.counts, f"1 - ({self.measure})", self.name
        )

    def reorder(self, stimuli: Sequence) -> SimilarityMatrix:
        """The same matrix with rows in the order of `stimuli` (which may be a subset)."""
        idx = _positions("SimilarityMatrix.reorder", self.stimuli, stimuli)
        counts = None if self.counts is None else self.counts[np.ix_(idx, idx)]
        return SimilarityMatrix(
            self.values[np.ix_(idx, idx)],
            tuple(self.stimuli[i] for i in idx),
            self.kind,
            counts,
            self.measure,
            self.name,
        )

    def renamed(self, name: str) -> SimilarityMatrix:
        return SimilarityMatrix(
            self.values, self.stimuli, self.kind, self.counts, self.measure, name
        )

    def to_long(self) -> pd.DataFrame:
        """One row per pair (i < j): stimulus_1, stimulus_2, value, count."""
        rows, cols = upper_indices(self.n_stimuli)
        ids = np.asarray(self.stimuli, dtype=object)
        return pd.DataFrame(
            {
                "stimulus_1": ids[rows],
                "stimulus_2": ids[cols],
                "value": self.upper(),
                "count": self.upper_counts(),
            }
        )

    @classmethod
    def from_vector(
        cls,
        vector: np.ndarray,
        stimuli: Sequence,
        kind: Kind = "dissimilarity",
        counts: np.ndarray | None = None,
        measure: str = "",
        name: str = "",
    ) -> SimilarityMatrix:
        """Build from an upper-triangle vector (and optional per-pair counts vector)."""
        square_counts = None if counts is None else vector_to_square(counts).astype(np.int64)
        return cls(vector_to_square(vector), stimuli, kind, square_counts, measure, name)

    @classmethod
    def from_long(
        cls,
        table: pd.DataFrame,
        *,
        value: str = "value",
        stimuli: Sequence | None = None,
        kind: Kind = "dissimilarity",
        measure: str = "",
        name: str = "",
    ) -> SimilarityMatrix:
        """Build from a long table with columns stimulus_1, stimulus_2 and `value`.

        Pairs that are absent from the table become missing (NaN, count 0); a pair given
        twice (in either order) is an error.
        """
        func = "SimilarityMatrix.from_long"
        if not {"stimulus_1", "stimulus_2", value} <= set(table.columns):
            raise fail(func, "table", f"columns stimulus_1, stimulus_2, {value!r}", list(table))
        a = table["stimulus_1"].astype(str).to_numpy()
        b = table["stimulus_2"].astype(str).to_numpy()
        ids = tuple(sorted(set(a) | set(b))) if stimuli is None else tuple(map(str, stimuli))
        pos = {s: i for i, s in enumerate(ids)}
        unknown = sorted((set(a) | set(b)) - set(pos))
        if unknown:
            raise fail(func, "stimuli", "a list containing every stimulus of the table", unknown)
        i = np.array([pos[s] for s in a], dtype=np.int64)
        j = np.array([pos[s] for s in b], dtype=np.int64)
        if (i == j).any():
            raise fail(func, "table", "pairs of two different stimuli", "a self-pair")
        n = len(ids)
        key = np.minimum(i, j) * n + np.maximum(i, j)
        if len(np.unique(key)) != len(key):
            raise fail(func, "table", "each pair at most once", "a repeated pair")
        values = np.full((n, n), np.nan)
        counts = np.zeros((n, n), dtype=np.int64)
        vals = table[value].to_numpy(dtype=float)
        values[i, j] = values[j, i] = vals
        counts[i, j] = counts[j, i] = np.where(np.isnan(vals), 0, 1)
        return cls(values, ids, kind, counts, measure, name)


def _positions(func: str, have: Sequence[str], want: Sequence) -> np.ndarray:
    pos = {s: i for i, s in enumerate(have)}
    want = [str(s) for s in want]
    missing = [s for s in want if s not in pos]
    if missing:
        raise fail(func, "stimuli", "ids present in the matrix", f"unknown {missing[:10]}")
    if len(set(want)) != len(want):
        raise fail(func, "stimuli", "unique ids", "duplicates")
    return np.array([pos[s] for s in want], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class ParticipantMatrices:
    """Per-participant (dis)similarities over the same stimuli, stored as observed pairs only.

    Each participant's value for a pair is ``sum / count`` of their judgments of it (a
    proportion for triplets and 2AFC, a mean z-score for ratings).  Only observed
    (participant, pair) cells are stored, so sparse designs cost memory in proportion to the
    data; `vectors` gives the dense (n_participants, n_pairs) view with NaN for unobserved.

    Attributes:
        participant_index, pair_index: (nnz,) cell coordinates (pair in rsatoolbox order).
        sums, counts: (nnz,) sum of judgment values and number of judgments per cell.
        participants, stimuli: ids in order.
        kind: "dissimilarity" or "similarity".
        pooling: how the group matrix is formed -- "count_weighted" (sum of sums over sum of
            counts: the pooled proportion for triplets/2AFC) or "participant_mean" (mean of
            the participants' values: z-scored ratings).
        measure, name: as for `SimilarityMatrix`.
    """

    participant_index: np.ndarray
    pair_index: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    participants: tuple[str, ...]
    stimuli: tuple[str, ...]
    kind: Kind = "dissimilarity"
    pooling: str = "participant_mean"
    measure: str = ""
    name: str = field(default="human")

    def __post_init__(self) -> None:
        func = "ParticipantMatrices"
        check_choice(func, "kind", self.kind, KINDS)
        check_choice(func, "pooling", self.pooling, POOLINGS)
        stimuli = tuple(str(s) for s in self.stimuli)
        object.__setattr__(self, "stimuli", _check_stimuli(func, stimuli, len(stimuli)))
        ids = tuple(str(p) for p in self.participants)
        if len(set(ids)) != len(ids):
            raise fail(func, "participants", "unique ids", ids)
        object.__setattr__(self, "participants", ids)
        p_idx = np.asarray(self.participant_index, dtype=np.int64)
        q_idx = np.asarray(self.pair_index, dtype=np.int64)
        sums = np.asarray(self.sums, dtype=float)
        counts = np.asarray(self.counts, dtype=np.int64)
        if not p_idx.shape == q_idx.shape == sums.shape == counts.shape or p_idx.ndim != 1:
            raise fail(func, "sums", "1-D cell arrays of equal length", sums.shape)
        n_pairs = len(stimuli) * (len(stimuli) - 1) // 2
        if p_idx.size and (p_idx.min() < 0 or p_idx.max() >= len(ids)):
            raise fail(func, "participant_index", f"indices in [0, {len(ids)})", p_idx.max())
        if q_idx.size and (q_idx.min() < 0 or q_idx.max() >= n_pairs):
            raise fail(func, "pair_index", f"indices in [0, {n_pairs})", q_idx.max())
        if (counts <= 0).any() or not np.isfinite(sums).all():
            raise fail(func, "counts", "positive counts with finite sums per stored cell", None)
        key = p_idx * n_pairs + q_idx
        order = np.argsort(key, kind="stable")
        if (np.diff(key[order]) == 0).any():
            raise fail(func, "pair_index", "each (participant, pair) cell once", "duplicates")
        for name, arr in (
            ("participant_index", p_idx),
            ("pair_index", q_idx),
            ("sums", sums),
            ("counts", counts),
        ):
            object.__setattr__(self, name, arr[order])

    @classmethod
    def from_dense(
        cls,
        values: np.ndarray,
        participants: Sequence,
        stimuli: Sequence,
        kind: Kind = "dissimilarity",
        counts: np.ndarray | None = None,
        pooling: str = "participant_mean",
        measure: str = "",
        name: str = "human",
    ) -> ParticipantMatrices:
        """Build from (n_participants, n, n) matrices or (n_participants, n_pairs) vectors,
        NaN = unobserved; `counts` (same shape) defaults to 1 per observed entry."""
        values = np.asarray(values, dtype=float)
        if values.ndim == 3:
            values = _check_square("ParticipantMatrices.from_dense", "values", values)
            rows, cols = upper_indices(values.shape[1])
            values = values[:, rows, cols]
            if counts is not None:
                counts = np.asarray(counts)[:, rows, cols]
        if values.ndim != 2:
            raise fail(
                "ParticipantMatrices.from_dense",
                "values",
                "3-D matrices or 2-D vectors",
                values.shape,
            )
        observed = ~np.isnan(values)
        counts = observed.astype(np.int64) if counts is None else np.asarray(counts)
        if counts.shape != values.shape or ((counts > 0) != observed).any():
            raise fail(
                "ParticipantMatrices.from_dense",
                "counts",
                "positive exactly where values are observed",
                None,
            )
        p_idx, q_idx = np.nonzero(observed)
        c = counts[p_idx, q_idx].astype(np.int64)
        return cls(
            p_idx,
            q_idx,
            values[p_idx, q_idx] * c,
            c,
            tuple(participants),
            tuple(stimuli),
            kind,
            pooling,
            measure,
            name,
        )

    @property
    def n_participants(self) -> int:
        return len(self.participants)

    @property
    def n_stimuli(self) -> int:
        return len(self.stimuli)

    @property
    def n_pairs(self) -> int:
        return self.n_stimuli * (self.n_stimuli - 1) // 2

    def vectors(self) -> np.ndarray:
        """(n_participants, n_pairs) values, NaN where a participant has no data for a pair."""
        out = np.full((self.n_participants, self.n_pairs), np.nan)
        out[self.participant_index, self.pair_index] = self.sums / self.counts
        return out

    def count_vectors(self) -> np.ndarray:
        out = np.zeros((self.n_participants, self.n_pairs), dtype=np.int64)
        out[self.participant_index, self.pair_index] = self.counts
        return out

    def matrices(self) -> np.ndarray:
        """(n_participants, n, n) dense matrices (diagonal as in `SimilarityMatrix`)."""
        diagonal = 0.0 if self.kind == "dissimilarity" else np.nan
        return vector_to_square(self.vectors(), diagonal)

    def dissimilarity(self) -> ParticipantMatrices:
        """Per-participant dissimilarities (similarities must be proportions: d = 1 - s)."""
        if self.kind == "dissimilarity":
            return self
        _as_dissimilarity_values("ParticipantMatrices.dissimilarity", self.sums / self.counts)
        return replace(
            self,
            sums=self.counts - self.sums,
            kind="dissimilarity",
            measure=f"1 - ({self.measure})",
        )

    def subset(self, participants: Sequence) -> ParticipantMatrices:
        """Only the given participants (in that order)."""
        idx = _positions("ParticipantMatrices.subset", self.participants, participants)
        new_pos = np.full(self.n_participants, -1)
        new_pos[idx] = np.arange(len(idx))
        keep = new_pos[self.participant_index] >= 0
        return replace(
            self,
            participant_index=new_pos[self.participant_index[keep]],
            pair_index=self.pair_index[keep],
            sums=self.sums[keep],
            counts=self.counts[keep],
            participants=tuple(self.participants[i] for i in idx),
        )

    def group_vectors(
        self, weights: np.ndarray, pairs: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pooled vectors for k participant weightings at once.

        weights: (k, n_participants), e.g. 0/1 rows selecting split halves; pairs: the
        (sorted) pair indices to pool, default all.  Returns ((k, n_pairs) pooled values with
        NaN where no weighted participant has the pair, (k, n_pairs) number of judgments
        behind each pooled value), n_pairs = len(pairs) when given.
        """
        weights = np.atleast_2d(np.asarray(weights, dtype=float))
        if weights.shape[1] != self.n_participants or (weights < 0).any():
            raise fail(
                "ParticipantMatrices.group_vectors",
                "weights",
                f"non-negative rows of length {self.n_participants}",
                weights.shape,
            )
        column, keep = np.arange(self.n_pairs), np.ones(self.pair_index.size, dtype=bool)
        if pairs is not None:
            column = np.full(self.n_pairs, -1)
            column[pairs] = np.arange(len(pairs))
            keep = column[self.pair_index] >= 0
        shape = (self.n_participants, self.n_pairs if pairs is None else len(pairs))
        cells = (self.participant_index[keep], column[self.pair_index[keep]])
        sums, cell_counts = self.sums[keep], self.counts[keep]
        counts = sparse.csr_array((cell_counts.astype(float), cells), shape=shape)
        if self.pooling == "count_weighted":
            num = sparse.csr_array((sums, cells), shape=shape)
            den = counts
        else:
            num = sparse.csr_array((sums / cell_counts, cells), shape=shape)
            den = sparse.csr_array((np.ones(sums.size), cells), shape=shape)
        top = np.asarray((num.T @ weights.T).T)
        bottom = np.asarray((den.T @ weights.T).T)
        n_obs = np.asarray((counts.T @ (weights > 0).T.astype(float)).T).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(bottom > 0, top / bottom, np.nan)
        return pooled, n_obs

    def group(self, weights: np.ndarray | None = None) -> SimilarityMatrix:
        """The group matrix under this object's pooling (optional participant weights)."""
        w = np.ones(self.n_participants) if weights is None else np.asarray(weights, float)
        pooled, n_obs = self.group_vectors(w[None])
        counts = vector_to_square(n_obs[0].astype(float)).astype(np.int64)
        values = vector_to_square(pooled[0], 0.0)
        return SimilarityMatrix(values, self.stimuli, self.kind, counts, self.measure, self.name)

    def to_long(self) -> pd.DataFrame:
        """One row per participant and observed pair: participant, stimulus_1/2, value, count."""
        rows, cols = upper_indices(self.n_stimuli)
        ids = np.asarray(self.stimuli, dtype=object)
        return pd.DataFrame(
            {
                "participant": np.asarray(self.participants, dtype=object)[self.participant_index],
                "stimulus_1": ids[rows[self.pair_index]],
                "stimulus_2": ids[cols[self.pair_index]],
                "value": self.sums / self.counts,
                "count": self.counts,
            }
        )
