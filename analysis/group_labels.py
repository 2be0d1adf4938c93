"""Group labels of participants or stimuli from an attribute table (one row per id)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._checks import check_columns, fail


def group_labels(table: pd.DataFrame, id_column: str, ids: Sequence, column: str) -> pd.Series:
    """Each id's group -- its value of `column` as text -- in the order of `ids`; NaN for ids
    without a row or a value (NaN, None and blank text count as no value).

    Groups are the distinct values: bin a continuous attribute (e.g. age) first."""
    func = "group_labels"
    check_columns(func, "table", table, [id_column, column])
    keys = table[id_column].astype(str)
    if keys.duplicated().any():
        raise fail(func, "table", f"one row per {id_column}", sorted(keys[keys.duplicated()])[:10])
    values = table[column].astype(object).where(table[column].notna(), None)
    text = values.map(lambda v: np.nan if v is None or str(v).strip() == "" else str(v))
    return pd.Series(text.to_numpy(), index=keys.to_numpy()).reindex([str(i) for i in ids])
