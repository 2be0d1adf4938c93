"""Argument checks at the API boundary, with scikit-learn style messages.

Every message reads "The 'x' parameter of F must be ...; got ...", so a caller sees which
argument of which function was wrong and what it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any


def _fail(owner: str, name: str, requirement: str, value: Any) -> ValueError:
    return ValueError(f"The {name!r} parameter of {owner} must be {requirement}; got {value!r}.")


def check_int(owner: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """`value` as int if it is an integer (not bool) in [low, high]; else ValueError."""
    upper = "inf" if high is None else str(high)
    if (
        isinstance(value, bool)
        or not isinstance(value, Integral)
        or value < low
        or (high is not None and value > high)
    ):
        raise _fail(owner, name, f"an int in [{low}, {upper}]", value)
    return int(value)


def check_float(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
) -> float:
    """`value` as float if it is a real number in [low, high] ((low, high] if `low_open`)."""
    bracket = "(" if low_open else "["
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _fail(owner, name, f"a number in {bracket}{low}, {high}]", value)
    number = float(value)
    if number < low or number > high or (low_open and number == low):
        raise _fail(owner, name, f"a number in {bracket}{low}, {high}]", value)
    return number


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """`value` if it is one of `choices`; else ValueError listing them."""
    options = list(choices)
    if value not in options:
        raise _fail(owner, name, f"one of {options}", value)
    return value


def check_fractions(owner: str, name: str, value: Any) -> tuple[float, ...]:
    """A non-empty, strictly increasing sequence of fractions in (0, 1] as a tuple of floats."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) == 0:
        raise _fail(owner, name, "a non-empty sequence of fractions in (0, 1]", value)
    fractions = tuple(check_float(owner, name, item, 0.0, 1.0, low_open=True) for item in value)
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise _fail(owner, name, "strictly increasing", value)
    return fractions


def check_unique_strings(owner: str, name: str, value: Any) -> tuple[str, ...]:
    """A sequence of distinct strings as a tuple."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(owner, name, "a sequence of distinct strings", value)
    items = tuple(value)
    if not all(isinstance(item, str) for item in items) or len(set(items)) != len(items):
        raise _fail(owner, name, "a sequence of distinct strings", value)
    return items
