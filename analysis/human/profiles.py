"""Reference dissimilarity from attribute profiles (e.g. mean ratings on 34 traits per face).

Each stimulus is a vector of attribute values; attributes are z-scored across stimuli (so a
0-100 "age" scale and a 0-100 "happy" scale weigh the same), then the dissimilarity of two
stimuli is 1 - Pearson correlation of their profiles (default) or the Euclidean distance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from analysis._checks import check_choice, fail
from analysis.matrices import SimilarityMatrix

METRICS = {"correlation": "correlation", "euclidean": "euclidean"}


def profile_dissimilarity(
    profiles: pd.DataFrame,
    *,
    attributes: Sequence[str] | None = None,
    metric: str = "correlation",
    standardize: bool = True,
    name: str = "attribute profiles",
) -> SimilarityMatrix:
    """Dissimilarity between the rows of `profiles` (index = stimulus ids).

    Rows with a missing attribute are an error (a profile distance over different attributes
    would not be comparable across pairs).
    """
    func = "profile_dissimilarity"
    check_choice(func, "metric", metric, METRICS)
    cols = list(profiles.columns) if attributes is None else list(attributes)
    missing = [c for c in cols if c not in profiles.columns]
    if missing or not cols:
        raise fail(func, "attributes", "columns of profiles", missing or cols)
    values = profiles[cols].to_numpy(dtype=float)
    if np.isnan(values).any():
        rows = profiles.index[np.isnan(values).any(1)].tolist()[:5]
        raise fail(func, "profiles", "complete attribute profiles", f"missing values in {rows}")
    if standardize:
        sd = values.std(0)
        if (sd == 0).any():
            raise fail(
                func,
                "profiles",
                "attributes that vary across stimuli",
                [c for c, s in zip(cols, sd, strict=True) if s == 0],
            )
        values = (values - values.mean(0)) / sd
    d = squareform(pdist(values, METRICS[metric]))
    measure = (
        f"{'1 - Pearson' if metric == 'correlation' else 'Euclidean distance'} of "
        + ("z-scored " if standardize else "")
        + f"profiles over {len(cols)} attributes"
    )
    return SimilarityMatrix(
        d, [str(i) for i in profiles.index], "dissimilarity", None, measure, name
    )
