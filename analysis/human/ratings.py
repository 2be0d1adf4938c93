"""Dissimilarity from pairwise similarity ratings.

Each participant's ratings are z-scored over their own rating trials (removing individual use
of the scale), dissimilarity = -z (or +z when higher ratings mean *less* similar), one matrix
per participant; a pair rated twice by a participant gets the mean.  The group matrix is the
mean over the participants who rated the pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._checks import fail
from analysis.human.choices import pair_index
from analysis.matrices import ParticipantMatrices

MEASURE = "negative per-participant z-scored similarity rating"


def rating_matrices(
    responses: pd.DataFrame,
    *,
    stimuli: Sequence[str] | None = None,
    roles: Sequence[str] = ("main",),
    higher_is_similar: bool = True,
    name: str = "human",
) -> ParticipantMatrices:
    """Per-participant rating dissimilarities (pooled as the participants' mean).

    Args:
        responses: the export as returned by `analysis.io.read_responses`.
        stimuli: stimulus ids (default: sorted ids seen on these trials).
        roles: trial roles to include (default "main"; z-scores use the same trials).
        higher_is_similar: True when the top of the scale means "very similar".

    Raises ValueError naming participants whose ratings do not vary (their z-scores are
    undefined; `analysis.quality.ExclusionRules.exclude_constant_ratings` excludes them).
    """
    func = "rating_matrices"
    rows = responses[(responses["trial_type"] == "rating") & responses["role"].isin(list(roles))]
    if rows.empty:
        raise fail(func, "responses", "rating trials with the given roles", "none")
    a = rows["item_1"].to_numpy(dtype=str)
    b = rows["item_2"].to_numpy(dtype=str)
    same = a == b
    if same.any():
        raise fail(
            func,
            "responses",
            "two different stimuli per rating trial (outside catch)",
            f"trial_index {rows['trial_index'].to_numpy()[same][:5].tolist()}",
        )
    ids = sorted(set(a) | set(b)) if stimuli is None else [str(s) for s in stimuli]
    index = pd.Index(ids)
    codes_a = index.get_indexer(a)
    codes_b = index.get_indexer(b)
    if (codes_a < 0).any() or (codes_b < 0).any():
        unknown = sorted((set(a) | set(b)) - set(ids))[:10]
        raise fail(func, "stimuli", "a list containing every rated stimulus", f"missing {unknown}")
    participant = rows["participant"].to_numpy(dtype=str)
    participants, p_codes = np.unique(participant, return_inverse=True)
    rating = rows["rating"].to_numpy(dtype=float)
    n_trials = np.bincount(p_codes)
    mean = np.bincount(p_codes, weights=rating) / n_trials
    sd = np.sqrt(np.bincount(p_codes, weights=(rating - mean[p_codes]) ** 2) / n_trials)
    flat = sd == 0
    if flat.any():
        raise fail(
            func,
            "responses",
            "ratings that vary within each participant",
            f"constant ratings from {participants[flat][:10].tolist()}",
        )
    z = (rating - mean[p_codes]) / sd[p_codes]
    dissimilarity = -z if higher_is_similar else z
    n = len(ids)
    n_pairs = n * (n - 1) // 2
    key = p_codes.astype(np.int64) * n_pairs + pair_index(codes_a, codes_b, n)
    cells, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=dissimilarity, minlength=len(cells))
    return ParticipantMatrices(
        cells // n_pairs,
        cells % n_pairs,
        sums,
        counts,
        tuple(participants),
        tuple(ids),
        "dissimilarity",
        "participant_mean",
        MEASURE if higher_is_similar else "per-participant z-scored dissimilarity rating",
        name,
    )
