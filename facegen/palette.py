"""Colour ramps for skin and hair tones and the fixed colours of the face parts (RGB 0-255)."""

from __future__ import annotations

import numpy as np

# Tones from very light to deep; a tone in [0, 1] is interpolated linearly between the stops.
SKIN_RAMP = np.array(
    [(255, 226, 200), (236, 192, 156), (206, 150, 108), (150, 96, 62), (92, 56, 36)], float
)
HAIR_RAMP = np.array(
    [(232, 212, 160), (196, 152, 84), (138, 92, 50), (76, 50, 32), (28, 24, 24)], float
)
# Typical iris colours: brown, dark brown, hazel, green, blue, grey (RGB in [0, 1]).
IRIS_COLORS = np.array(
    [(0.36, 0.22, 0.12), (0.2, 0.12, 0.08), (0.5, 0.4, 0.2), (0.3, 0.45, 0.25),
     (0.3, 0.5, 0.7), (0.5, 0.55, 0.6)]
)  # fmt: skip
LIP_RED = np.array((196, 64, 78), float)
SCLERA = (246, 244, 238)
PUPIL = (12, 10, 10)
LASH = (36, 26, 24)
GLASSES_FRAME = (30, 30, 36)
GLASSES_TINT = (200, 220, 255, 36)


def ramp_color(ramp: np.ndarray, tone: float) -> np.ndarray:
    """Colour at position `tone` in [0, 1] along `ramp` (piecewise-linear)."""
    position = np.linspace(0.0, 1.0, len(ramp))
    return np.array([np.interp(tone, position, ramp[:, c]) for c in range(3)])


def shade(color: np.ndarray, factor: float) -> tuple[int, int, int]:
    """`color` scaled by `factor` as an RGB tuple of ints clipped to 0-255."""
    return tuple(int(v) for v in np.clip(np.round(np.asarray(color) * factor), 0, 255))


def mix(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Linear blend: `weight` = 0 gives `a`, 1 gives `b`."""
    return (1.0 - weight) * np.asarray(a, float) + weight * np.asarray(b, float)
