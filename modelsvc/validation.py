"""Argument checks at the API boundary, with scikit-learn style messages.

Every message reads "The 'x' parameter of F must be ...; got ...", so a caller sees which
argument of which function was wrong and what it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any


def fail(func: str, name: str, expectation: str, got: Any) -> ValueError:
    """The standard error for a bad argument (callers `raise` it)."""
    return ValueError(f"The {name!r} parameter of {func} must be {expectation}; got {got!r}.")


def check_int(
    func: str, name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """`value` as int if it is an integer (not bool) in [minimum, maximum]; else ValueError."""
    lower = "-inf" if minimum is None else str(minimum)
    upper = "inf" if maximum is None else str(maximum)
    if (
        isinstance(value, bool)
        or not isinstance(value, Integral)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise fail(func, name, f"an int in [{lower}, {upper}]", value)
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
    """`value` as float if it is a real number in [low, high] (open ends if `low_open`,
    `high_open`); else ValueError."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise fail(func, name, f"a number in {span}", value)
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise fail(func, name, f"a number in {span}", value)
    return number


def check_choice(func: str, name: str, value: Any, options: Iterable[Any]) -> Any:
    """`value` if it is one of `options`; else ValueError listing them."""
    options = list(options)
    if value not in options:
        raise fail(func, name, f"one of {options}", value)
    return value


def check_fractions(func: str, name: str, value: Any) -> tuple[float, ...]:
    """A non-empty, strictly increasing sequence of fractions in (0, 1] as a tuple of floats."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) == 0:
        raise fail(func, name, "a non-empty sequence of fractions in (0, 1]", value)
    fractions = tuple(
        check_real(func, name, item, low=0.0, high=1.0, low_open=True) for item in value
    )
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise fail(func, name, "strictly increasing", value)
    return fractions


def check_unique_strings(func: str, name: str, value: Any) -> tuple[str, ...]:
    """A sequence of distinct strings as a tuple."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise fail(func, name, "a sequence of distinct strings", value)
    items = tuple(value)
    if not all(isinstance(item, str) for item in items) or len(set(items)) != len(items):
        raise fail(func, name, "a sequence of distinct strings", value)
    return items
