"""Random identities (with a gender-like latent) and random per-image views."""

from __future__ import annotations

import dataclasses

import numpy as np

from facegen import palette
from facegen._validation import check_choice, check_instance, check_real
from facegen.params import HAIR_STYLES, FaceParams, ViewParams

GENDERS = ("female", "male")

# Fields shifted by the gender latent: (mean, shift towards "male", standard deviation).
# Each shift is 0.5-0.75 standard deviations, so the groups overlap on every single field
# (Cohen's d 1.1-1.5) and gender is only reliable from several fields together.
GENDERED_FIELDS = {
    "face_width": (0.26, 0.008, 0.015),
    "jaw_width": (0.5, 0.1, 0.16),
    "brow_thickness": (0.062, 0.012, 0.018),
    "brow_height": (0.21, -0.02, 0.035),
    "hair_length": (0.45, -0.15, 0.25),
    "lip_redness": (0.45, -0.15, 0.2),
}

# Per-image variation: half-width of the uniform jitter around the canonical view at variation 1.
VIEW_JITTER = {
    "shift_x": 0.05,
    "shift_y": 0.05,
    "scale": 0.12,
    "rotation": 12.0,
    "light_azimuth": 45.0,
    "light_elevation": 25.0,
    "brightness": 0.2,
    "background_tone": 0.16,
    "smile": 0.25,
    "brow_raise": 0.02,
    "eye_open_factor": 0.12,
    "gaze_x": 0.2,
    "gaze_y": 0.1,
}
MAX_VIEW_VARIATION = 1.5  # VIEW_JITTER scaled by this still fits the ViewParams ranges


def sample_identity(rng: np.random.Generator, gender: str, *, glasses: bool = False) -> FaceParams:
    """Draw the identity parameters of one face of the given `gender` ("female" or "male").

    Fields in `GENDERED_FIELDS` are normal around a mean shifted by the gender latent (clipped to
    their range); hair tone leans towards dark (Beta(1.6, 1)); every other numeric field is
    uniform over its whole range, so identities differ in many independent ways. Skin and hair
    tone, iris colour and hair style are gender-neutral.
    """
    check_choice("sample_identity", "gender", gender, GENDERS)
    check_instance("sample_identity", "rng", rng, np.random.Generator, "a numpy.random.Generator")
    direction = 1.0 if gender == "male" else -1.0
    values: dict[str, object] = {}
    for field in dataclasses.fields(FaceParams):
        if "range" not in field.metadata:
            continue
        low, high = field.metadata["range"]
        if field.name in GENDERED_FIELDS:
            mean, shift, sd = GENDERED_FIELDS[field.name]
            values[field.name] = float(np.clip(rng.normal(mean + direction * shift, sd), low, high))
        elif field.name == "hair_tone":  # more dark than fair hair, as in most populations
            values[field.name] = float(low + (high - low) * rng.beta(1.6, 1.0))
        else:
            values[field.name] = float(rng.uniform(low, high))
    base = palette.IRIS_COLORS[rng.integers(len(palette.IRIS_COLORS))]
    values["iris_color"] = tuple(
        float(c) for c in np.clip(base + rng.normal(0.0, 0.04, 3), 0.0, 1.0)
    )
    values["hair_style"] = HAIR_STYLES[rng.integers(len(HAIR_STYLES))]
    return FaceParams(**values, glasses=bool(glasses))


def sample_view(rng: np.random.Generator, variation: float = 1.0) -> ViewParams:
    """Draw one view: each field uniform within ``variation * VIEW_JITTER`` of the canonical view.

    ``variation=0`` returns the canonical view; at most `MAX_VIEW_VARIATION`.
    """
    check_instance("sample_view", "rng", rng, np.random.Generator, "a numpy.random.Generator")
    check_real("sample_view", "variation", variation, low=0.0, high=MAX_VIEW_VARIATION)
    canonical = ViewParams()
    jitter = rng.uniform(-1.0, 1.0, len(VIEW_JITTER)) * variation
    return ViewParams(
        **{
            name: getattr(canonical, name) + float(offset) * half_width
            for (name, half_width), offset in zip(VIEW_JITTER.items(), jitter, strict=True)
        }
    )
