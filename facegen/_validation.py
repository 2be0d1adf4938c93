"""Argument checks with scikit-learn style messages: "The 'x' parameter of F must be ...; got ..."""

from __future__ import annotations

from numbers import Integral, Real


def check_int(owner: str, name: str, value: object, low: int, high: int) -> int:
    """`value` as int if it is an integer (not bool) in [low, high], else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in [{low}, {high}]; got {value!r}."
        )
    return int(value)


def check_number(owner: str, name: str, value: object, low: float, high: float) -> float:
    """`value` as float if it is a real number (not bool) in [low, high], else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not low <= value <= high:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a number in [{low}, {high}]; got {value!r}."
        )
    return float(value)


def check_choice(owner: str, name: str, value: object, choices: tuple) -> None:
    """Raise ValueError unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be one of {list(choices)}; got {value!r}."
        )


def check_instance(owner: str, name: str, value: object, kind: type, description: str) -> None:
    """Raise ValueError unless `value` is an instance of `kind` (described as `description`)."""
    if not isinstance(value, kind):
        raise ValueError(f"The {name!r} parameter of {owner} must be {description}; got {value!r}.")
