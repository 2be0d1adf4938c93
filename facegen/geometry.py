"""Point sets for the face shapes and the view transform into pixel coordinates.

All shapes are built in the *face frame*: origin at the image centre, unit = image size, x to the
right, y downwards. A view (scale, in-plane rotation, shift) maps the face frame to the image.
"""

from __future__ import annotations

import math

import numpy as np

from facegen.params import ViewParams


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> np.ndarray:
    """Closed ellipse outline as an (n, 2) array."""
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 32
) -> np.ndarray:
    """Points on an ellipse from angle `start` to `stop` (radians, y downwards)."""
    t = np.linspace(start, stop, n)
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def band(x: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Polygon between two curves y = top(x) and y = bottom(x) sampled at the same `x`."""
    return np.concatenate([np.column_stack([x, top]), np.column_stack([x, bottom])[::-1]])


def clip_between(
    points: np.ndarray, x: np.ndarray, top: np.ndarray, bottom: np.ndarray
) -> np.ndarray:
    """Clip a convex outline to the region between two curves sampled at increasing `x`.

    Exact for the shapes used here (a disc clipped to an eye opening: both are convex and bounded
    by single-valued upper and lower curves), so no polygon-clipping library is needed.
    """
    px = np.clip(points[:, 0], x[0], x[-1])
    py = np.clip(points[:, 1], np.interp(px, x, top), np.interp(px, x, bottom))
    return np.column_stack([px, py])


def view_matrix(view: ViewParams) -> tuple[np.ndarray, np.ndarray]:
    """Linear part (2x2) and offset of the face-frame -> image-frame map of `view`."""
    angle = math.radians(view.rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    linear = view.scale * np.array([[cos, -sin], [sin, cos]])
    return linear, np.array([view.shift_x, view.shift_y])


def to_pixels(points: np.ndarray, view: ViewParams, canvas: int) -> np.ndarray:
    """Map face-frame `points` through `view` to pixel coordinates of a `canvas`-sized image."""
    linear, offset = view_matrix(view)
    return (points @ linear.T + offset + 0.5) * canvas
