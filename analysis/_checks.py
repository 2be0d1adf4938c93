"""Input validation at the public boundary, with scikit-learn style messages.

Every message has the form "The 'x' parameter of F must be ...; got ...", so a caller sees
which argument of which function was wrong and what value it had.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np


def fail(func: str, name: str, expectation: str, got: Any) -> ValueError:
    """Build the standard error for a bad argument (callers `raise` it)."""
    shown = repr(got)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return ValueError(f"The {name!r} parameter of {func} must be {expectation}; got {shown}.")


def check_choice(func: str, name: str, value: Any, options: Iterable[Any]) -> Any:
    """Return `value` if it is one of `options`."""
    options = tuple(options)
    if value not in options:
        raise fail(func, name, "one of " + ", ".join(repr(o) for o in options), value)
    return value


def check_int(
    func: str, name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return `value` as int if it is an integer (not bool) in [`minimum`, `maximum`]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise fail(func, name, "an integer", value)
    if minimum is not None and value < minimum:
        raise fail(func, name, f"an integer >= {minimum}", value)
    if maximum is not None and value > maximum:
        raise fail(func, name, f"an integer <= {maximum}", value)
    return int(value)


def check_real(
    func: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return `value` as float if it is a finite real number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise fail(func, name, "a finite real number", value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise fail(func, name, f"a number in {span}", value)
    return float(value)


def check_random_state(func: str, value: Any) -> np.random.Generator:
    """Turn `random_state` (None, int or Generator) into a numpy Generator.

    None means fresh OS entropy (not reproducible); an int seeds PCG64 so the same int gives
    the same numbers on every platform.
    """
    if value is None or isinstance(value, np.random.Generator):
        return np.random.default_rng(value)
    if isinstance(value, Integral) and not isinstance(value, bool) and value >= 0:
        return np.random.default_rng(int(value))
    raise fail(func, "random_state", "None, a non-negative int or a numpy Generator", value)


def check_columns(func: str, name: str, frame: Any, required: Iterable[str]) -> None:
    """Raise if the DataFrame `frame` lacks any of the `required` columns."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise fail(func, name, f"a table with the columns {list(required)}", f"missing {missing}")
