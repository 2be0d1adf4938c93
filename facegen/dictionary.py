"""Face Dictionary columns of generated faces: parts, local attributes and global labels.

The generator knows every parameter exactly, so the concepts need no annotation. This module
returns plain columns (pure numpy, no torch); ``modelsvc.dissection.build_dictionary`` turns
them into binary concepts (numeric columns split at their terciles)::

    columns = dictionary_columns(samples)
    dictionary = build_dictionary(names=[s.name for s in samples],
                                  label_maps=[s.parts for s in samples], **columns)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facegen.dataset import FaceSample
from facegen.render import PART_NAMES

PART_GROUPS: dict[str, tuple[str, ...]] = {
    "skin": ("skin",),
    "hair": ("hair",),
    "eyes": ("left_eye", "right_eye"),
    "brows": ("left_brow", "right_brow"),
    "nose": ("nose",),
    "mouth": ("mouth",),
    "glasses": ("glasses",),
}
"""Part concepts of generated faces; left and right features form one part."""

LOCAL_ATTRIBUTES: dict[str, str] = {
    "eye_size": "eyes",
    "eye_spacing": "eyes",
    "eye_openness": "eyes",
    "brow_thickness": "brows",
    "brow_tilt": "brows",
    "nose_width": "nose",
    "nose_length": "nose",
    "mouth_width": "mouth",
    "mouth_curvature": "mouth",
    "lip_thickness": "mouth",
    "hair_length": "hair",
    "hair_style": "hair",
}
"""Identity parameters (`FaceParams` fields) that are attributes of one part."""

GLOBAL_PARAMETERS = ("skin_tone", "hair_tone", "jaw_width", "face_width")
"""Identity parameters with no single part, used as global concepts beside the labels."""


def dictionary_columns(
    samples: Sequence[FaceSample],
    *,
    labels: Sequence[str] = ("gender", "glasses"),
    local: dict[str, str] | None = None,
    parameters: Sequence[str] = GLOBAL_PARAMETERS,
) -> dict[str, Any]:
    """Keyword arguments of ``build_dictionary`` (all but names and maps) for `samples`.

    `labels` are sample labels used as global concepts (add ``"identity"`` for sets with
    enough images per identity), `local` maps parameters to parts (default `LOCAL_ATTRIBUTES`),
    `parameters` are identity parameters used as global concepts.
    """
    local = LOCAL_ATTRIBUTES if local is None else local
    global_columns: dict[str, list[Any]] = {
        label: [s.labels[label] for s in samples] for label in labels
    }
    global_columns.update({p: [getattr(s.params, p) for s in samples] for p in parameters})
    present = {p for s in samples for p in PART_GROUPS if _has_part(s, p)}
    return {
        "part_names": PART_NAMES,
        "part_groups": {p: m for p, m in PART_GROUPS.items() if p in present},
        "local_columns": {
            field: (part, [getattr(s.params, field) for s in samples])
            for field, part in local.items()
        },
        "global_columns": global_columns,
    }


def _has_part(sample: FaceSample, part: str) -> bool:
    codes = [PART_NAMES.index(name) for name in PART_GROUPS[part]]
    return bool((sample.parts[..., None] == codes).any())
