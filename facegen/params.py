"""Parameters of a generated face: identity (`FaceParams`) and per-image view (`ViewParams`).

Every field carries its allowed range and meaning as dataclass metadata; the classes validate
themselves on construction and their docstrings list the ranges (generated from the metadata, so
the documentation cannot drift from the checks).

Units: lengths of the face outline are fractions of the image size; positions and sizes of the
inner features are fractions of the face half-width ``W`` (horizontal) or half-height ``H``
(vertical), so features stay inside the face whatever its shape. Colours are tones in [0, 1]
along a palette (see :mod:`facegen.palette`) or RGB triples in [0, 1].
"""

from __future__ import annotations

import dataclasses
from typing import Any

from facegen._validation import check_choice, check_instance, check_real

HAIR_STYLES = ("swept_back", "fringe", "side_part")


def _number(low: float, high: float, default: float, doc: str) -> Any:
    """A float field allowed in the closed interval [low, high]."""
    return dataclasses.field(default=default, metadata={"range": (low, high), "doc": doc})


def _choice(choices: tuple[str, ...], default: str, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"choices": choices, "doc": doc})


def _flag(default: bool, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"flag": True, "doc": doc})


def _rgb(default: tuple[float, float, float], doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"rgb": True, "doc": doc})


def _validated(owner: str, name: str, value: Any, meta: dict[str, Any]) -> Any:
    """Return `value` normalised (floats, tuples) or raise a ValueError naming the field."""
    if "range" in meta:
        return check_real(owner, name, value, low=meta["range"][0], high=meta["range"][1])
    if "choices" in meta:
        check_choice(owner, name, value, meta["choices"])
        return value
    if "flag" in meta:
        check_instance(owner, name, value, bool, "a bool")
        return value
    channels = tuple(value) if isinstance(value, list | tuple) else ()
    if len(channels) != 3:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an (r, g, b) triple; got {value!r}."
        )
    return tuple(
        check_real(owner, f"{name}[{i}]", c, low=0.0, high=1.0) for i, c in enumerate(channels)
    )


def _describe(meta: dict[str, Any]) -> str:
    if "range" in meta:
        return "[{}, {}]".format(*meta["range"])
    if "choices" in meta:
        return "one of " + ", ".join(meta["choices"])
    if "flag" in meta:
        return "bool"
    return "RGB in [0, 1]^3"


class _Validated:
    """Mixin: validate and normalise every field in ``__post_init__``."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _validated(owner, field.name, getattr(self, field.name), field.metadata)
            object.__setattr__(self, field.name, value)

    @classmethod
    def field_range(cls, name: str) -> tuple[float, float]:
        """The allowed closed interval of the numeric field `name`."""
        return next(f.metadata["range"] for f in dataclasses.fields(cls) if f.name == name)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }  # type: ignore[call-overload]


def _document(cls: type) -> type:
    """Append a generated 'Fields' section (name, range, meaning) to the class docstring."""
    lines = [
        f"    {f.name} ({_describe(f.metadata)}): {f.metadata['doc']}"
        for f in dataclasses.fields(cls)
    ]
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n    Fields:\n" + "\n".join(lines) + "\n"
    return cls


@_document
@dataclasses.dataclass(frozen=True)
class FaceParams(_Validated):
    """Identity parameters of one generated face (geometry and appearance).

    Defaults describe an average, neutral face. ``W`` = face_width and ``H`` = face_height are
    the units of the inner features. Out-of-range values raise a ValueError naming the field.
    """

    face_width: float = _number(0.22, 0.30, 0.26, "half-width of the face, fraction of image size")
    face_height: float = _number(0.30, 0.37, 0.335, "half-height of the face (forehead to chin)")
    jaw_width: float = _number(0.0, 1.0, 0.5, "0 = tapered oval jaw, 1 = broad square jaw")
    chin_length: float = _number(0.0, 1.0, 0.5, "0 = short round chin, 1 = long chin")
    eye_height: float = _number(
        -0.25, 0.0, -0.1, "eye line relative to face centre, in H (<0 = up)"
    )
    eye_spacing: float = _number(0.33, 0.47, 0.4, "half-distance between eye centres, in W")
    eye_size: float = _number(0.14, 0.21, 0.17, "half-width of one eye, in W")
    eye_openness: float = _number(0.35, 0.6, 0.47, "eye half-height / eye half-width")
    iris_color: tuple[float, float, float] = _rgb((0.36, 0.22, 0.12), "iris colour")
    brow_thickness: float = _number(0.03, 0.1, 0.06, "eyebrow thickness, in W")
    brow_height: float = _number(0.14, 0.3, 0.21, "eye centre to eyebrow centreline, in H")
    brow_tilt: float = _number(-15.0, 15.0, 0.0, "eyebrow tilt in degrees, > 0 = outer ends raised")
    nose_length: float = _number(0.3, 0.48, 0.38, "eye line to nose tip, in H")
    nose_width: float = _number(0.13, 0.25, 0.18, "half-width of the nostrils, in W")
    mouth_width: float = _number(0.26, 0.46, 0.35, "half-width of the mouth, in W")
    mouth_curvature: float = _number(-1.0, 1.0, 0.1, "-1 = frown, 0 = straight, 1 = broad smile")
    lip_thickness: float = _number(0.025, 0.075, 0.05, "thickness of the lower lip, in H")
    lip_redness: float = _number(0.0, 1.0, 0.4, "0 = lips close to skin tone, 1 = strongly red")
    skin_tone: float = _number(0.0, 1.0, 0.3, "skin palette position, 0 = very light, 1 = deep")
    hair_tone: float = _number(0.0, 1.0, 0.6, "hair palette position, 0 = platinum, 1 = black")
    hair_length: float = _number(0.0, 1.0, 0.3, "0 = cropped, 0.5 = chin length, 1 = shoulders")
    hair_style: str = _choice(HAIR_STYLES, "swept_back", "shape of the hairline")
    glasses: bool = _flag(False, "wears glasses (dark frames, faintly tinted lenses)")


@_document
@dataclasses.dataclass(frozen=True)
class ViewParams(_Validated):
    """Per-image nuisance parameters (in-plane pose, lighting) and small expression changes.

    The defaults give the canonical frontal view: centred, unrotated, frontal light.
    """

    shift_x: float = _number(-0.08, 0.08, 0.0, "horizontal translation, fraction of image size")
    shift_y: float = _number(-0.08, 0.08, 0.0, "vertical translation (> 0 = down)")
    scale: float = _number(0.8, 1.2, 1.0, "zoom factor about the image centre")
    rotation: float = _number(-25.0, 25.0, 0.0, "in-plane rotation in degrees, > 0 = clockwise")
    light_azimuth: float = _number(-80.0, 80.0, 0.0, "light direction in degrees, < 0 = from left")
    light_elevation: float = _number(-30.0, 60.0, 10.0, "light elevation in degrees, > 0 = above")
    brightness: float = _number(0.6, 1.4, 1.0, "overall exposure factor")
    background_tone: float = _number(0.0, 1.0, 0.75, "background grey level, 0 = black, 1 = white")
    smile: float = _number(-0.5, 0.5, 0.0, "added to mouth_curvature (expression)")
    brow_raise: float = _number(-0.05, 0.05, 0.0, "added to brow_height (expression)")
    eye_open_factor: float = _number(0.7, 1.2, 1.0, "multiplies eye_openness (expression)")
    gaze_x: float = _number(-0.35, 0.35, 0.0, "iris shift, fraction of eye half-width, > 0 = right")
    gaze_y: float = _number(-0.2, 0.2, 0.0, "iris shift, fraction of eye half-width, > 0 = down")
