"""Settings dataclasses from JSON objects: fields and types read from the dataclass itself.

`dataclass_from_dict(cls, data)` accepts exactly the fields of `cls` (unknown keys are an error
that lists the known ones), checks every value against the field's annotation (`bool`, `int`,
`float`, `str`, `X | None`, `tuple[X, ...]`, `tuple[X, Y]`, or a nested dataclass given as a
JSON object) and turns JSON lists into the tuples the annotations ask for.  Range checks stay
in the dataclass's own `__post_init__`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from numbers import Integral, Real
from typing import Any, TypeVar

from analysis._checks import fail

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], data: Any) -> T:
    """An instance of the dataclass `cls` from a JSON object; ValueError names a bad key."""
    func = f"{cls.__name__}.from_dict"
    if not isinstance(data, dict):
        raise fail(func, "data", "a JSON object (dict)", data)
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ValueError(f"Unknown keys {unknown} for {cls.__name__}; known: {sorted(fields)}.")
    return cls(**{name: _convert(func, name, hints[name], data[name]) for name in data})


def _convert(func: str, name: str, hint: Any, value: Any) -> Any:
    """`value` as the annotation `hint` wants it; raises the standard error otherwise."""
    converted = _try(hint, value)
    if converted is _MISMATCH:
        raise fail(func, name, _describe(hint), value)
    return converted


_MISMATCH = object()


def _try(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            converted = _try(arm, value)
            if converted is not _MISMATCH:
                return converted
        return _MISMATCH
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return _MISMATCH
        arms = [args[0]] * len(value) if args[-1:] == (Ellipsis,) else list(args)
        if len(arms) != len(value):
            return _MISMATCH
        items = [_try(arm, item) for arm, item in zip(arms, value, strict=True)]
        return _MISMATCH if any(i is _MISMATCH for i in items) else tuple(items)
    if hint is type(None):
        return None if value is None else _MISMATCH
    if hint is bool:
        return value if isinstance(value, bool) else _MISMATCH
    if hint is int:
        return (
            int(value) if isinstance(value, Integral) and not isinstance(value, bool) else _MISMATCH
        )
    if hint is float:
        return (
            float(value) if isinstance(value, Real) and not isinstance(value, bool) else _MISMATCH
        )
    if hint is str:
        return value if isinstance(value, str) else _MISMATCH
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return dataclass_from_dict(hint, value) if isinstance(value, dict) else _MISMATCH
    raise TypeError(f"dataclass_from_dict cannot read fields annotated {hint!r}.")


def _describe(hint: Any) -> str:
    """The annotation in words for the error message."""
    if dataclasses.is_dataclass(hint):
        return f"a JSON object of {hint.__name__} settings"
    shown = hint.__name__ if isinstance(hint, type) else str(hint)
    return f"of type {shown}".replace("typing.", "").replace("NoneType", "None")
