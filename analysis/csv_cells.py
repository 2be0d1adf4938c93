"""Spreadsheet formula injection: the cell encoding every CSV of the platform uses (no Django).

OWASP ("CSV Injection"): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return may run as a formula when the file is opened in a spreadsheet. Such cells get a leading
``'``, which spreadsheets show as text. To keep stimulus names round-trippable the encoding is
reversible: a value that already starts with ``'`` followed by one of those characters (or by a
second ``'``) gets one more ``'``, and `restore_cell` removes exactly that one.
The SQL form used by PostgreSQL's COPY (``studyapp.selectors.exports``) builds on `TRIGGERS`.
"""

import os

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_AFTER_QUOTE = (*TRIGGERS, QUOTE)


def neutralise_cell(value):
    """``value`` with a leading ``'`` where a spreadsheet could read a formula; non-text as is."""
    if not isinstance(value, str):
        return value
    if value.startswith(TRIGGERS) or (value[:1] == QUOTE and value[1:2] in _AFTER_QUOTE):
        return QUOTE + value
    return value


def restore_cell(value):
    """The inverse of `neutralise_cell`: drop the one ``'`` it added."""
    if isinstance(value, str) and value[:1] == QUOTE and value[1:2] in _AFTER_QUOTE:
        return value[1:]
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name neutralised; numbers are left alone."""
    out = frame.rename(columns=neutralise_cell)
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **to_csv) -> None:
    """``frame.to_csv(path, **to_csv)`` with formula-like text neutralised."""
    neutralise_frame(frame).to_csv(path, **to_csv)
