"""The face options of a stimulus import: "align and crop" and "derive part masks".

Each photo goes through `modelsvc.face_prep` (dlib's CNN face detector, 5 landmarks and dlib's
150 px aligned chip; 68 landmarks and a part label map). The stored image is then the prepared
pixels as PNG (the chip, or the photo as decoded, so that its mask matches it pixel for pixel),
and the record of how it was made goes with the stimulus. PyTorch is imported only when an
option is chosen (web workers start without it). The 68-point model's training data (iBUG
300-W) is for non-commercial research only (`modelsvc.dlib_parts.PART_MASK_LICENCE`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from modelsvc.dlib_parts import LANDMARK_PART_NAMES  # numpy and Pillow only


class FaceNotFound(ValueError):
    """No face was found in a photo (the message says so for the import report)."""


@dataclass(frozen=True)
class PreparedStimulus:
    image_png: bytes
    mask_png: bytes | None
    record: dict[str, Any]


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class FacePreparer:
    """Prepares photos for one import with the chosen options (models loaded once)."""

    def __init__(self, *, align: bool, part_masks: bool) -> None:
        from modelsvc.face_prep import load_face_models  # torch, only when an option is chosen

        self.align, self.part_masks = align, part_masks
        self.models = load_face_models(part_masks=part_masks)

    @property
    def part_names(self) -> list[str]:
        return list(LANDMARK_PART_NAMES) if self.part_masks else []

    def __call__(self, data: bytes) -> PreparedStimulus:
        """The stored image, mask and record of one photo's bytes; FaceNotFound without a face."""
        from modelsvc.face_prep import NoFaceFound, prepare_face

        with Image.open(io.BytesIO(data)) as photo:
            pixels = np.asarray(ImageOps.exif_transpose(photo).convert("RGB"))
        try:
            prepared = prepare_face(
                self.models, pixels, align=self.align, part_masks=self.part_masks
            )
        except NoFaceFound as error:
            raise FaceNotFound(str(error)) from error
        record = {
            **prepared.record,
            "options": {"align_and_crop": self.align, "derive_part_masks": self.part_masks},
            "source_sha256": hashlib.sha256(data).hexdigest(),
        }
        mask = None if prepared.part_mask is None else _png(prepared.part_mask)
        return PreparedStimulus(_png(prepared.image), mask, record)
