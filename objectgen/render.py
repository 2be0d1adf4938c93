"""Render one object of a class in a pose to an anti-aliased RGB image (numpy, then Pillow)."""

from __future__ import annotations

import colorsys
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from facegen._validation import check_instance, check_int, check_real  # the house's checks
from objectgen.classes import ObjectClass

MIN_SIZE, MAX_SIZE = 16, 1024
MAX_VIEW_VARIATION = 1.5
SUPERSAMPLE = 2  # coverage is averaged over 2 x 2 sub-pixels
TEXTURE_FREQUENCY = 3.0  # texture periods per object radius


@dataclass(frozen=True)
class ObjectView:
    """Pose and colouring of one image: rotation (radians), scale (object radius as a share of
    half the image), shift (x, y as shares of half the image), hue offset, saturation and value
    of the object, and the background's two colours (top-left to bottom-right gradient)."""

    rotation: float = 0.0
    scale: float = 0.75
    shift: tuple[float, float] = (0.0, 0.0)
    hue_offset: float = 0.0
    saturation: float = 0.75
    value: float = 0.85
    background: tuple[tuple[float, float, float], tuple[float, float, float]] = (
        (0.5, 0.5, 0.5),
        (0.6, 0.6, 0.6),
    )

    def to_dict(self) -> dict:
        return asdict(self)


def sample_view(rng: np.random.Generator, variation: float = 1.0) -> ObjectView:
    """A random view; `variation` scales every nuisance range (0 = the canonical view)."""
    check_real("sample_view", "variation", variation, low=0.0, high=MAX_VIEW_VARIATION)
    v = variation
    grey = rng.uniform(0.25, 0.75, size=2)
    tint = rng.uniform(-0.08, 0.08, size=(2, 3)) * v
    background = tuple(tuple(np.clip(grey[i] + tint[i], 0, 1).tolist()) for i in range(2))
    return ObjectView(
        rotation=float(rng.uniform(-np.pi, np.pi) * min(v, 1.0)),
        scale=float(np.clip(0.72 + rng.uniform(-0.17, 0.13) * v, 0.3, 0.95)),
        shift=tuple(np.clip(rng.uniform(-0.15, 0.15, size=2) * v, -0.3, 0.3).tolist()),
        hue_offset=float(rng.uniform(-0.05, 0.05) * v),
        saturation=float(np.clip(0.75 + rng.uniform(-0.2, 0.15) * v, 0.2, 1.0)),
        value=float(np.clip(0.85 + rng.uniform(-0.2, 0.1) * v, 0.3, 1.0)),
        background=background,
    )


def render_object(object_class: ObjectClass, view: ObjectView | None = None, size: int = 128):
    """`object_class` seen in `view` (default: the canonical view) as a size x size PIL image."""
    check_instance("render_object", "object_class", object_class, ObjectClass, "an ObjectClass")
    view = ObjectView() if view is None else view
    check_instance("render_object", "view", view, ObjectView, "an ObjectView or None")
    check_int("render_object", "size", size, minimum=MIN_SIZE, maximum=MAX_SIZE)
    canvas = size * SUPERSAMPLE
    axis = (np.arange(canvas) + 0.5) / canvas * 2.0 - 1.0  # pixel centres in [-1, 1]
    py, px = np.meshgrid(axis, axis, indexing="ij")
    # object coordinates: undo the shift, rotation and scale (radius 1 = the object's size)
    dx, dy = px - view.shift[0], py - view.shift[1]
    cos, sin = np.cos(view.rotation), np.sin(view.rotation)
    x = (cos * dx + sin * dy) / view.scale
    y = (-sin * dx + cos * dy) / view.scale
    inside = SHAPE_MASKS[object_class.shape](x, y)
    pattern = TEXTURE_MASKS[object_class.texture](x * TEXTURE_FREQUENCY, y * TEXTURE_FREQUENCY)

    hue = (object_class.hue + view.hue_offset) % 1.0
    main = np.array(colorsys.hsv_to_rgb(hue, view.saturation, view.value))
    second = np.array(colorsys.hsv_to_rgb(hue, view.saturation * 0.5, view.value * 0.4))
    start, end = (np.array(c) for c in view.background)
    ramp = ((px + py) / 4.0 + 0.5)[..., None]
    pixels = start * (1 - ramp) + end * ramp
    colour = np.where(pattern[..., None], second, main)
    pixels = np.where(inside[..., None], colour, pixels)
    pixels = pixels.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return Image.fromarray(np.rint(pixels * 255).astype(np.uint8), "RGB")


def _polygon(sides: int):
    """Inside a regular polygon with circumradius 0.9 (one vertex up)."""

    def inside(x, y):
        phi = np.arctan2(x, -y) % (2 * np.pi / sides) - np.pi / sides
        return np.hypot(x, y) * np.cos(phi) < 0.9 * np.cos(np.pi / sides)

    return inside


def _star(x, y):
    phi, r = np.arctan2(x, -y), np.hypot(x, y)
    return r < 0.42 + 0.5 * (0.5 + 0.5 * np.cos(5 * phi)) ** 2


def _cross(x, y):
    ax, ay = np.abs(x), np.abs(y)
    return ((ax < 0.3) & (ay < 0.9)) | ((ay < 0.3) & (ax < 0.9))


def _crescent(x, y):
    return (np.hypot(x, y) < 0.9) & (np.hypot(x - 0.45, y + 0.1) > 0.7)


SHAPE_MASKS = {
    "circle": lambda x, y: np.hypot(x, y) < 0.85,
    "triangle": _polygon(3),
    "square": _polygon(4),
    "hexagon": _polygon(6),
    "star": _star,
    "ring": lambda x, y: (np.hypot(x, y) < 0.9) & (np.hypot(x, y) > 0.5),
    "cross": _cross,
    "crescent": _crescent,
}
"""Per shape: (x, y) object coordinates -> inside the shape."""

TEXTURE_MASKS = {
    "stripes": lambda u, v: np.sin(np.pi * u) > 0,
    "checks": lambda u, v: np.sin(np.pi * u) * np.sin(np.pi * v) > 0,
    "dots": lambda u, v: np.hypot(u - np.rint(u), v - np.rint(v)) < 0.28,
}
"""Per texture: (u, v) texture coordinates -> the pixel takes the second (darker) colour."""
