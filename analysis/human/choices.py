"""Similarity from choices: triplet odd-one-out and 2AFC match-to-reference.

Every choice trial becomes a triplet (i, j, odd): i and j were judged together, odd apart.

* Triplet odd-one-out on (a, b, c) with choice c: (a, b, c).  All three pairs were candidates.
* 2AFC with reference r and candidates a, b, choosing a: (r, a, b).  Only the pairs (r, a) and
  (r, b) were candidates -- (a, b) was never on offer, so it gets no observation.

Dense-design similarity: ``S_ij = #(i, j kept together) / #(trials where (i, j) was a
candidate)`` (chance 1/3 for triplets, 1/2 for 2AFC).  Pairs never offered are missing (NaN,
count 0), never zero.  Counting uses ``np.bincount`` over pair indices, so a million responses
take well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._checks import fail
from analysis.matrices import ParticipantMatrices, SimilarityMatrix, vector_to_square

MEASURE = "proportion of trials in which the pair was kept together"


def pair_index(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Position of the unordered pair (a, b), a != b, in the upper-triangle vector."""
    lo = np.minimum(a, b).astype(np.int64)
    hi = np.maximum(a, b).astype(np.int64)
    return lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)


def choice_table(
    responses: pd.DataFrame,
    *,
    stimuli: Sequence[str] | None = None,
    roles: Sequence[str] = ("main",),
) -> tuple[pd.DataFrame, list[str]]:
    """Triplet and 2AFC trials as (participant, trial_type, i, j, odd) stimulus indices.

    Args:
        responses: the export as returned by `analysis.io.read_responses`.
        stimuli: stimulus ids defining the indices (default: sorted ids seen in these trials).
        roles: trial roles to include (default only "main"; add "repeat" to count repeated
            trials twice).

    Returns (table, stimuli).  Raises if a triplet shows a stimulus twice outside catch trials.
    """
    func = "choice_table"
    rows = responses[
        responses["trial_type"].isin(["triplet", "afc"]) & responses["role"].isin(list(roles))
    ]
    columns = [rows[f"item_{k}"] for k in (1, 2, 3)]
    if stimuli is None:
        ids = sorted(pd.unique(pd.concat(columns, ignore_index=True)).tolist())
    else:
        ids = [str(s) for s in stimuli]
    # integer codes via pandas' hash indexer: string comparisons on 10^6 rows are slow
    index = pd.Index(ids)
    codes = np.stack([index.get_indexer(c) for c in columns], 1).astype(np.int64)
    if (codes < 0).any():
        shown = pd.unique(pd.concat(columns, ignore_index=True)).tolist()
        unknown = sorted(set(map(str, shown)) - set(ids))[:10]
        raise fail(func, "stimuli", "a list containing every stimulus shown", f"missing {unknown}")
    dup = (codes[:, 0] == codes[:, 1]) | (codes[:, 0] == codes[:, 2]) | (codes[:, 1] == codes[:, 2])
    if dup.any():
        raise fail(
            func,
            "responses",
            "three different stimuli on non-catch choice trials",
            f"trial_index {rows['trial_index'].to_numpy()[dup][:5].tolist()}",
        )
    chosen = index.get_indexer(rows["choice"]).astype(np.int64)
    is_afc = (rows["trial_type"] == "afc").to_numpy()
    # triplets: odd = chosen item, the pair = the other two (in display order)
    odd_pos = np.argmax(codes == chosen[:, None], axis=1)
    keep = np.ones_like(codes, dtype=bool)
    keep[np.arange(len(codes)), odd_pos] = False
    pair = codes[keep].reshape(-1, 2)
    # 2AFC: reference with the chosen candidate, the other candidate is the odd one
    other = np.where(codes[:, 1] == chosen, codes[:, 2], codes[:, 1])
    table = pd.DataFrame(
        {
            "participant": rows["participant"].to_numpy(),
            "trial_type": rows["trial_type"].to_numpy(),
            "trial_index": rows["trial_index"].to_numpy(),
            "i": np.where(is_afc, codes[:, 0], pair[:, 0]),
            "j": np.where(is_afc, chosen, pair[:, 1]),
            "odd": np.where(is_afc, other, chosen),
        }
    )
    return table, ids


def _pair_events(table: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trial row, pair index, kept together?) for every candidate pair of every trial."""
    i, j, odd = (table[c].to_numpy(np.int64) for c in ("i", "j", "odd"))
    afc = table["trial_type"].to_numpy() == "afc"
    rows = np.arange(len(table))
    together = pair_index(i, j, n)
    apart_1 = pair_index(i, odd, n)
    apart_2 = pair_index(j, odd, n)  # not a candidate pair on 2AFC trials
    trial = np.concatenate([rows, rows, rows[~afc]])
    pairs = np.concatenate([together, apart_1, apart_2[~afc]])
    kept = np.concatenate([np.ones(len(rows)), np.zeros(len(rows)), np.zeros(int((~afc).sum()))])
    return trial, pairs, kept


def choice_similarity(
    table: pd.DataFrame, stimuli: Sequence[str], name: str = "human"
) -> SimilarityMatrix:
    """The pooled (group) similarity matrix from a `choice_table`."""
    n = len(stimuli)
    n_pairs = n * (n - 1) // 2
    _, pairs, kept = _pair_events(table, n)
    together = np.bincount(pairs, weights=kept, minlength=n_pairs)
    offered = np.bincount(pairs, minlength=n_pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(offered > 0, together / offered, np.nan)
    return SimilarityMatrix(
        vector_to_square(values, np.nan),
        stimuli,
        "similarity",
        vector_to_square(offered.astype(float)).astype(np.int64),
        MEASURE,
        name,
    )


def choice_matrices(
    table: pd.DataFrame, stimuli: Sequence[str], name: str = "human"
) -> ParticipantMatrices:
    """Per-participant proportions kept together (pooled as total together / total offered)."""
    n = len(stimuli)
    n_pairs = n * (n - 1) // 2
    p_codes, participants = pd.factorize(table["participant"], sort=True)
    trial, pairs, kept = _pair_events(table, n)
    key = p_codes[trial].astype(np.int64) * n_pairs + pairs
    cells, inverse, offered = np.unique(key, return_inverse=True, return_counts=True)
    together = np.bincount(inverse, weights=kept, minlength=len(cells))
    return ParticipantMatrices(
        cells // n_pairs,
        cells % n_pairs,
        together,
        offered,
        tuple(map(str, participants)),
        tuple(stimuli),
        "similarity",
        "count_weighted",
        MEASURE,
        name,
    )
