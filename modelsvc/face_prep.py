"""Prepare a face photo for a stimulus set with dlib's published models: find the face (the CNN
detector), align and crop it as dlib's face chips, derive its part mask from 68 landmarks.

The photo's grey levels for the landmark predictors are dlib's intensity of an RGB pixel,
``(r + g + b) // 3``. The best-scoring face is used (the record says how many were found). A
face more than about twice the chip size is aligned on the photo downscaled (Pillow, bilinear
with antialiasing) so that it fits, since dlib's image-pyramid path for big faces is not
ported; photos over `MAX_PHOTO_SIDE` px are downscaled to it before anything else (the record
gives the sizes used). Part masks come from the 68-point predictor, trained on
iBUG 300-W, whose images are licensed for non-commercial research only: masks derived here
inherit that restriction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from modelsvc.builtin import get_builtin
from modelsvc.dlib_align import extract_face_chip, face_chip_box, image_to_chip
from modelsvc.dlib_detector import DlibFaceDetector, detect_faces, load_face_detector
from modelsvc.dlib_landmarks import ShapePredictor, load_shape_predictor, predict_landmarks
from modelsvc.dlib_parts import LANDMARK_PART_NAMES, PART_MASK_LICENCE, part_label_map

CHIP_SIZE = 150
#: Photos with a longer side are downscaled to it first (detection time grows with pixels).
MAX_PHOTO_SIDE = 1024
CHIP_PADDING = 0.25


class NoFaceFound(ValueError):
    """dlib's face detector found no face in the photo."""


@dataclass(frozen=True)
class FaceModels:
    detector: DlibFaceDetector
    five_points: ShapePredictor
    sixty_eight_points: ShapePredictor | None


@lru_cache(maxsize=2)
def load_face_models(*, part_masks: bool) -> FaceModels:
    """The detector and predictors shipped with face-recognition-models (read once per process;
    the 68-point predictor takes about two minutes the first time, then comes from a cache)."""
    folder = get_builtin("dlib_resnet29").weights_path().parent
    return FaceModels(
        detector=load_face_detector(folder / "mmod_human_face_detector.dat"),
        five_points=load_shape_predictor(folder / "shape_predictor_5_face_landmarks.dat"),
        sixty_eight_points=(
            load_shape_predictor(folder / "shape_predictor_68_face_landmarks.dat")
            if part_masks
            else None
        ),
    )


@dataclass(frozen=True)
class PreparedFace:
    """The image to store (RGB uint8), its part label map (or None) and how both were made."""

    image: np.ndarray
    part_mask: np.ndarray | None
    record: dict[str, Any]


def dlib_intensity(rgb: np.ndarray) -> np.ndarray:
    """dlib's grey level of RGB pixels: the integer mean of the three channels."""
    return (rgb.astype(np.uint16).sum(axis=2) // 3).astype(np.uint8)


def _fit_for_chip(rgb: np.ndarray, five: np.ndarray) -> float:
    """The scale (<= 1) at which the face's chip needs no image pyramid."""
    _, (left, _, right, _) = face_chip_box(five, size=CHIP_SIZE, padding=CHIP_PADDING)
    width = right - left + 1
    limit = 2 * (CHIP_SIZE - 1)  # dlib's chip path: (width / 2 + 1)^2 <= size^2
    return 1.0 if width <= limit else 0.98 * limit / width


def _downscaled(rgb: np.ndarray, scale: float) -> np.ndarray:
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def _rounded(points: np.ndarray) -> list[list[float]]:
    return np.round(np.asarray(points, dtype=np.float64), 2).tolist()


def prepare_face(
    models: FaceModels, rgb: np.ndarray, *, align: bool, part_masks: bool
) -> PreparedFace:
    """Detect the face of an RGB uint8 (H, W, 3) photo; align and crop it (`align`), derive its
    part mask (`part_masks`, needs the 68-point model); `NoFaceFound` if there is no face."""
    if part_masks and models.sixty_eight_points is None:
        raise ValueError("The 'models' parameter of prepare_face lacks the 68-point predictor.")
    record: dict[str, Any] = {"photo_size": [rgb.shape[1], rgb.shape[0]]}
    if max(rgb.shape[:2]) > MAX_PHOTO_SIDE:
        rgb = _downscaled(rgb, MAX_PHOTO_SIDE / max(rgb.shape[:2]))
        record["photo_downscaled_to"] = [rgb.shape[1], rgb.shape[0]]
    faces = detect_faces(models.detector, rgb)
    if not faces:
        raise NoFaceFound(
            "no face found by dlib's CNN face detector (faces under 80 px are missed)"
        )
    face = faces[0]
    record |= {
        "method": "dlib models (face-recognition-models 0.3.0) run by modelsvc",
        "detector": "mmod_human_face_detector",
        "detector_score": round(face.score, 6),
        "faces_found": len(faces),
        "face_box": list(face.box),
    }
    image, gray, box = rgb, dlib_intensity(rgb), face.box
    five = predict_landmarks(models.five_points, gray, box)
    if align:
        scale = _fit_for_chip(rgb, five)
        if scale < 1:
            image = _downscaled(rgb, scale)
            gray = dlib_intensity(image)
            box = tuple(math.floor(v * scale + 0.5) for v in face.box)
            five = predict_landmarks(models.five_points, gray, box)
            record["aligned_on_photo_downscaled_to"] = [image.shape[1], image.shape[0]]
        record["alignment"] = (
            f"dlib face chip: 5-point similarity transform to dlib's template, "
            f"{CHIP_SIZE} px, padding {CHIP_PADDING}"
        )
        record["landmarks_5_photo"] = five.tolist()
        stored = extract_face_chip(image, five, size=CHIP_SIZE, padding=CHIP_PADDING)
        record["landmarks_5"] = _rounded(
            image_to_chip(five, five, size=CHIP_SIZE, padding=CHIP_PADDING)
        )
    else:
        stored = rgb
        record["landmarks_5"] = five.tolist()
    mask = None
    if part_masks:
        sixty_eight = predict_landmarks(models.sixty_eight_points, gray, box)
        if align:
            sixty_eight = image_to_chip(sixty_eight, five, size=CHIP_SIZE, padding=CHIP_PADDING)
        mask = part_label_map(sixty_eight, stored.shape[:2])
        record["landmarks_68"] = _rounded(sixty_eight)
        record["part_mask"] = f"labels {list(LANDMARK_PART_NAMES)} from 68 landmarks"
        record["part_mask_licence"] = PART_MASK_LICENCE
    return PreparedFace(stored, mask, record)
