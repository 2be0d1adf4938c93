"""The face model: turns `FaceParams` + `ViewParams` into an ordered list of coloured shapes.

Each `Shape` names the part it belongs to, so the renderer paints the image and the part-label
map from the same geometry (painter's order: later shapes cover earlier ones in both).
Left/right part names follow the face's own (anatomical) sides: the face's left eye appears on
the right of the image, as in face-parsing datasets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facegen import palette
from facegen.geometry import arc, band, clip_between, ellipse
from facegen.params import FaceParams, ViewParams

FACE_CENTER_Y = 0.02  # face-frame y of the face centre (slightly below the image centre)


@dataclass(frozen=True)
class Shape:
    """A filled polygon (``width == 0``) or an open polyline of ``width`` in face-frame units.

    ``part`` is the label painted into the part map, or None for translucent overlays that leave
    the labels underneath unchanged (e.g. the tint of glasses lenses).
    """

    part: str | None
    color: tuple[int, ...]
    points: np.ndarray
    width: float = 0.0


@dataclass(frozen=True)
class _Layout:
    """Derived positions shared by several parts (face-frame units)."""

    W: float
    H: float
    eye_y: float
    tip_y: float
    chin_y: float
    skin: np.ndarray
    hair: np.ndarray

    @classmethod
    def of(cls, face: FaceParams) -> _Layout:
        W, H = face.face_width, face.face_height
        eye_y = FACE_CENTER_Y + face.eye_height * H
        return cls(
            W=W,
            H=H,
            eye_y=eye_y,
            tip_y=eye_y + face.nose_length * H,
            chin_y=FACE_CENTER_Y + H * (1.0 + 0.12 * face.chin_length),
            skin=palette.ramp_color(palette.SKIN_RAMP, face.skin_tone),
            hair=palette.ramp_color(palette.HAIR_RAMP, face.hair_tone),
        )

    def hair_ellipse(self, face: FaceParams) -> tuple[float, float, float, float]:
        """Centre and radii of the outer outline of the hair; longer hair has more volume."""
        volume = 1.0 + 0.08 * face.hair_length
        return 0.0, FACE_CENTER_Y - 0.06 * self.H, 1.04 * volume * self.W, 1.05 * volume * self.H


def face_shapes(face: FaceParams, view: ViewParams) -> list[Shape]:
    """All shapes of the face in painting order (back to front)."""
    lay = _Layout.of(face)
    shapes = [*_ears(lay), *_back_hair(face, lay), *_neck(lay)]
    shapes.append(Shape("skin", palette.shade(lay.skin, 1.0), _face_outline(face, lay)))
    shapes += _nose(face, lay)
    shapes += _mouth(face, view, lay)
    for side in (-1, 1):
        shapes += _eye(face, view, lay, side)
        shapes += _brow(face, view, lay, side)
    shapes += _front_hair(face, lay)
    if face.glasses:
        shapes += _glasses(face, lay)
    return shapes


def _side_name(part: str, side: int) -> str:
    """`side` +1 is the right of the image, i.e. the face's own left."""
    return f"{'left' if side > 0 else 'right'}_{part}"


def _face_outline(face: FaceParams, lay: _Layout) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, 120, endpoint=False)
    cos, sin = np.cos(t), np.sin(t)
    x, y = lay.W * cos, lay.H * sin
    lower = sin > 0
    # Lower half as a superellipse: exponent < 1 squares the jaw, > 1 tapers it towards the chin.
    exponent = 1.35 - 0.75 * face.jaw_width
    x[lower] = lay.W * np.sign(cos[lower]) * np.abs(cos[lower]) ** exponent
    y[lower] *= 1.0 + 0.12 * face.chin_length * sin[lower] ** 6
    return np.column_stack([x, FACE_CENTER_Y + y])


def _ears(lay: _Layout) -> list[Shape]:
    shapes = []
    for side in (-1, 1):
        cx, cy = side * 0.97 * lay.W, lay.eye_y + 0.14 * lay.H
        outer = ellipse(cx, cy, 0.13 * lay.W, 0.21 * lay.H, 32)
        inner = ellipse(cx + side * 0.03 * lay.W, cy, 0.06 * lay.W, 0.13 * lay.H, 24)
        shapes.append(Shape("skin", palette.shade(lay.skin, 0.95), outer))
        shapes.append(Shape("skin", palette.shade(lay.skin, 0.78), inner))
    return shapes


def _neck(lay: _Layout) -> list[Shape]:
    top, bottom = FACE_CENTER_Y + 0.55 * lay.H, 0.6
    points = np.array(
        [(-0.5 * lay.W, top), (0.5 * lay.W, top), (0.6 * lay.W, bottom), (-0.6 * lay.W, bottom)]
    )
    return [Shape("skin", palette.shade(lay.skin, 0.82), points)]


def _back_hair(face: FaceParams, lay: _Layout) -> list[Shape]:
    """Hair behind the head, reaching from the crown down to a length set by hair_length."""
    cx, cy, rx, ry = lay.hair_ellipse(face)
    end_y = FACE_CENTER_Y + lay.H * (-0.3 + 2.0 * face.hair_length)
    top = arc(cx, cy, rx, ry, math.pi, 2.0 * math.pi, 40)
    if end_y <= cy:
        return [Shape("hair", palette.shade(lay.hair, 0.8), top)]
    bottom_rx = rx * (1.0 + 0.2 * face.hair_length)
    x = np.linspace(bottom_rx, -bottom_rx, 25)
    # Slightly uneven ends, like strands of different length.
    ends = np.column_stack([x, end_y - 0.03 * lay.H * np.abs(np.sin(x / lay.W * 9.0))])
    return [Shape("hair", palette.shade(lay.hair, 0.8), np.concatenate([top, ends]))]


def _hairline(
    face: FaceParams, lay: _Layout, x: np.ndarray, temple_y: float, half: float
) -> np.ndarray:
    """y of the lower edge of the front hair at each `x` (|x| <= `half`) for the hair style."""
    brow_y = lay.eye_y - face.brow_height * lay.H
    r = np.abs(x) / half
    if face.hair_style == "fringe":
        top = brow_y - 0.13 * lay.H
        return top + (temple_y - top) * r**6 + 0.025 * lay.H * np.abs(np.sin(x / lay.W * 14.0))
    top = brow_y - 0.34 * lay.H
    y = top + (temple_y - top) * r**2.2
    if face.hair_style == "side_part":
        # Hair combed from a parting on the face's left down across the forehead to its right.
        y = y + 0.24 * lay.H * np.clip(0.6 - x / half, 0.0, 1.0) * (1.0 - r**4)
    return y


def _front_hair(face: FaceParams, lay: _Layout) -> list[Shape]:
    """Hair on top of the head, down to the hairline over the forehead."""
    cx, cy, rx, ry = lay.hair_ellipse(face)
    temple_y = lay.eye_y - 0.02 * lay.H
    angle = math.asin(float(np.clip((temple_y - cy) / ry, -1.0, 1.0)))
    outline = arc(cx, cy, rx, ry, math.pi - angle, 2.0 * math.pi + angle, 48)
    half = rx * math.cos(angle)
    x = np.linspace(half, -half, 41)
    line = np.column_stack([x, _hairline(face, lay, x, temple_y, half)])
    return [Shape("hair", palette.shade(lay.hair, 1.0), np.concatenate([outline, line]))]


def _eye_curves(
    face: FaceParams, view: ViewParams, lay: _Layout, side: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x samples and the upper/lower lid curves of one eye opening."""
    ex, half_w = side * face.eye_spacing * lay.W, face.eye_size * lay.W
    half_h = half_w * face.eye_openness * view.eye_open_factor
    u = np.linspace(-1.0, 1.0, 25)
    x = ex + u * half_w
    upper = lay.eye_y - half_h * (1.0 - u**2) ** 0.75
    lower = lay.eye_y + 0.75 * half_h * (1.0 - u**2) ** 0.9
    return x, upper, lower


def _eye(face: FaceParams, view: ViewParams, lay: _Layout, side: int) -> list[Shape]:
    part = _side_name("eye", side)
    x, upper, lower = _eye_curves(face, view, lay, side)
    ex, half_w = side * face.eye_spacing * lay.W, face.eye_size * lay.W
    ix, iy = ex + view.gaze_x * half_w, lay.eye_y + view.gaze_y * half_w
    radius = 0.5 * half_w
    iris_rgb = np.array(face.iris_color) * 255.0

    def disc(cx: float, cy: float, r: float) -> np.ndarray:
        return clip_between(ellipse(cx, cy, r, r, 40), x, upper, lower)

    crease = np.column_stack([x, upper - 0.35 * (lower - upper).max()])[3:-3]
    return [
        Shape("skin", palette.shade(lay.skin, 0.85), crease, 0.015 * lay.W),
        Shape(part, palette.SCLERA, band(x, upper, lower)),
        Shape(part, palette.shade(iris_rgb, 1.0), disc(ix, iy, radius)),
        Shape(part, palette.shade(iris_rgb, 0.6), disc(ix, iy, 0.55 * radius)),
        Shape(part, palette.PUPIL, disc(ix, iy, 0.4 * radius)),
        Shape(part, (255, 255, 255), disc(ix - 0.3 * radius, iy - 0.3 * radius, 0.15 * radius)),
        Shape(part, palette.LASH, np.column_stack([x, upper]), 0.045 * lay.W),
        Shape(
            part, palette.shade(lay.skin, 0.65), np.column_stack([x, lower])[2:-2], 0.012 * lay.W
        ),
    ]


def _brow(face: FaceParams, view: ViewParams, lay: _Layout, side: int) -> list[Shape]:
    center_x = side * (face.eye_spacing + 0.02) * lay.W
    center_y = lay.eye_y - (face.brow_height + view.brow_raise) * lay.H
    half_len = 1.3 * face.eye_size * lay.W
    u = np.linspace(-1.0, 1.0, 21)  # -1 = inner end (towards the nose), +1 = outer end
    x = center_x + side * u * half_len
    y = (
        center_y
        - 0.12 * half_len * (1.0 - u**2)
        - math.tan(math.radians(face.brow_tilt)) * u * half_len
    )
    thickness = face.brow_thickness * lay.W * (1.0 - 0.35 * (u + 1.0) / 2.0)
    thickness *= np.clip(1.0 - (u - 0.6) / 0.6, 0.35, 1.0)  # taper the outer end
    color = palette.shade(lay.hair, 0.6)
    return [Shape(_side_name("brow", side), color, band(x, y - thickness / 2, y + thickness / 2))]


def _nose(face: FaceParams, lay: _Layout) -> list[Shape]:
    half_w, top, tip = face.nose_width * lay.W, lay.eye_y + 0.02 * lay.H, lay.tip_y
    length = tip - top
    right = np.array(
        [(0.3 * half_w, top), (0.45 * half_w, top + 0.6 * length), (half_w, tip),
         (0.7 * half_w, tip + 0.08 * lay.H)]
    )  # fmt: skip
    outline = np.concatenate([right, right[::-1] * (-1.0, 1.0)])
    ridge = np.array([(-0.32 * half_w, top + 0.25 * length), (-0.45 * half_w, tip - 0.15 * length)])
    tip_light = ellipse(0.0, tip - 0.01 * lay.H, 0.35 * half_w, 0.05 * lay.H, 24)
    shapes = [
        Shape("nose", palette.shade(lay.skin, 0.96), outline),
        Shape("nose", palette.shade(lay.skin, 0.86), ridge, 0.02 * lay.W),
        Shape("nose", palette.shade(lay.skin, 1.04), tip_light),
    ]
    for side in (-1, 1):
        nostril_x, nostril_y = side * 0.42 * half_w, tip + 0.04 * lay.H
        nostril = ellipse(nostril_x, nostril_y, 0.17 * half_w, 0.02 * lay.H, 20)
        wing = arc(0.0, tip, 0.3 * half_w, 0.06 * lay.H, -0.5 * math.pi, 0.5 * math.pi, 12)
        wing[:, 0] = side * (0.75 * half_w + wing[:, 0])  # outward-bulging arc of the nose wing
        shapes.append(Shape("nose", palette.shade(lay.skin, 0.55), nostril))
        shapes.append(Shape("nose", palette.shade(lay.skin, 0.84), wing, 0.012 * lay.W))
    return shapes


def _mouth(face: FaceParams, view: ViewParams, lay: _Layout) -> list[Shape]:
    mouth_y = lay.tip_y + 0.38 * (lay.chin_y - lay.tip_y)
    half_w = face.mouth_width * lay.W
    curvature = face.mouth_curvature + view.smile
    u = np.linspace(-1.0, 1.0, 33)
    x = u * half_w
    line = mouth_y - 0.09 * lay.H * curvature * (u**2 - 1.0 / 3.0)
    lower_t, upper_t = face.lip_thickness * lay.H, 0.75 * face.lip_thickness * lay.H
    bow = 1.0 - 0.35 * np.exp(-((u / 0.12) ** 2))  # cupid's bow dip in the upper lip
    upper = line - upper_t * (1.0 - u**2) ** 0.6 * bow
    lower = line + lower_t * (1.0 - u**2) ** 0.6
    lip = palette.mix(lay.skin * 0.8, palette.LIP_RED, 0.15 + 0.5 * face.lip_redness)
    highlight = ellipse(0.0, mouth_y + 0.5 * lower_t, 0.35 * half_w, 0.22 * lower_t, 24)
    return [
        Shape("mouth", palette.shade(lip, 1.0), band(x, upper, lower)),
        Shape("mouth", palette.shade(lip, 1.12), highlight),
        Shape("mouth", palette.shade(lip, 0.5), np.column_stack([x, line]), 0.012 * lay.W),
    ]


def _glasses(face: FaceParams, lay: _Layout) -> list[Shape]:
    spacing, width = face.eye_spacing * lay.W, 0.05 * lay.W
    rx = min(1.6 * face.eye_size * lay.W, 0.9 * spacing)
    ry, cy = 0.72 * rx, lay.eye_y + 0.02 * lay.H
    shapes = []
    for side in (-1, 1):
        rim = ellipse(side * spacing, cy, rx, ry, 48)
        temple = np.array(
            [(side * (spacing + rx), cy - 0.2 * ry), (side * 1.01 * lay.W, cy - 0.3 * ry)]
        )
        shapes.append(Shape(None, palette.GLASSES_TINT, rim))
        shapes.append(
            Shape("glasses", palette.GLASSES_FRAME, np.concatenate([rim, rim[:1]]), width)
        )
        shapes.append(Shape("glasses", palette.GLASSES_FRAME, temple, width))
    inner = spacing - rx
    bridge = np.array([(-inner, cy - 0.3 * ry), (0.0, cy - 0.45 * ry), (inner, cy - 0.3 * ry)])
    shapes.append(Shape("glasses", palette.GLASSES_FRAME, bridge, width))
    return shapes
