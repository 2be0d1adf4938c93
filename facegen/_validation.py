"""Argument checks with scikit-learn style messages: "The 'x' parameter of F must be ...; got ..."

Same names and argument order as `modelsvc.validation` and `analysis._checks`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any


def fail(func: str, name: str, expectation: str, got: Any) -> ValueError:
    """The standard error for a bad argument (callers `raise` it)."""
    return ValueError(f"The {name!r} parameter of {func} must be {expectation}; got {got!r}.")


def check_int(func: str, name: str, value: Any, *, minimum: int, maximum: int) -> int:
    """`value` as int if it is an integer (not bool) in [minimum, maximum], else a ValueError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Integral)
        or not minimum <= value <= maximum
    ):
        raise fail(func, name, f"an int in [{minimum}, {maximum}]", value)
    return int(value)


def check_real(func: str, name: str, value: Any, *, low: float, high: float) -> float:
    """`value` as float if it is a real number (not bool) in [low, high], else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not low <= value <= high:
        raise fail(func, name, f"a number in [{low}, {high}]", value)
    return float(value)


def check_choice(func: str, name: str, value: Any, options: tuple) -> Any:
    """`value` if it is one of `options`, else a ValueError listing them."""
    if value not in options:
        raise fail(func, name, f"one of {list(options)}", value)
    return value


def check_instance(func: str, name: str, value: Any, kind: type, description: str) -> None:
    """Raise ValueError unless `value` is an instance of `kind` (described as `description`)."""
    if not isinstance(value, kind):
        raise fail(func, name, description, value)
