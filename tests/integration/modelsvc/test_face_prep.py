"""Face preparation for stimulus import: detection, dlib's aligned chip and part masks on real
photos, and the alignment round trip (landmarks mapped into the chip are where dlib's predictor
finds them on the chip). Skips when the models package or the datasets are absent."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelsvc.dlib_align import chip_to_image, image_to_chip
from modelsvc.dlib_detector import detect_faces
from modelsvc.dlib_landmarks import predict_landmarks
from modelsvc.dlib_parts import LANDMARK_PART_NAMES
from modelsvc.face_prep import (
    CHIP_SIZE,
    NoFaceFound,
    dlib_intensity,
    load_face_models,
    prepare_face,
)

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))
PHOTOS = ["orl_faces/s3/4.pgm", "orl_faces/s9/2.pgm", "orl_faces/s21/7.pgm"]
PHOTOS += ["omi_faces/images/5.jpg", "omi_faces/images/77.jpg", "omi_faces/images/400.jpg"]


@pytest.fixture(scope="module")
def models():
    try:
        return load_face_models(part_masks=True)  # ~2 min the first time (68-point model)
    except ValueError as exc:
        pytest.skip(str(exc))


def _photo(path: str) -> np.ndarray:
    if not (DATASETS / path).is_file():
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    return np.asarray(Image.open(DATASETS / path).convert("RGB"))


@pytest.mark.slow
def test_alignment_round_trip_on_real_faces(models):
    errors = []
    for path in PHOTOS:
        prepared = prepare_face(models, _photo(path), align=True, part_masks=True)
        chip = prepared.image
        assert chip.shape == (CHIP_SIZE, CHIP_SIZE, 3)
        faces = detect_faces(models.detector, chip)  # the aligned face is found again
        assert len(faces) == 1, path
        five = predict_landmarks(models.five_points, dlib_intensity(chip), faces[0].box)
        errors.append(np.linalg.norm(five - prepared.record["landmarks_5"], axis=1))
        mask = prepared.part_mask
        assert mask.shape == chip.shape[:2]
        assert set(np.unique(mask)) == set(range(len(LANDMARK_PART_NAMES)))
        assert len(prepared.record["landmarks_68"]) == 68
    errors = np.concatenate(errors)
    print(f"5 landmarks, mapped vs found on the chip: mean {errors.mean():.2f} px")
    assert errors.mean() <= 1.5
    assert errors.max() <= 2.5


def test_chip_coordinates_invert(models):
    landmarks = np.array([[60.0, 40], [50, 41], [25, 40], [35, 41], [43, 62]])
    points = np.array([[10.0, 20.0], [44.5, 61.25], [90, 3]])
    in_chip = image_to_chip(points, landmarks)
    origin, matrix = chip_to_image(landmarks)
    np.testing.assert_allclose(in_chip @ matrix.T + origin, points, atol=1e-9)


def test_a_big_face_is_aligned_on_a_downscaled_photo(models):
    photo = Image.fromarray(_photo("omi_faces/images/5.jpg")).resize((800, 800))
    prepared = prepare_face(models, np.asarray(photo), align=True, part_masks=False)
    assert prepared.image.shape == (CHIP_SIZE, CHIP_SIZE, 3)
    assert prepared.part_mask is None
    width, height = prepared.record["aligned_on_photo_downscaled_to"]
    assert width == height < 800


def test_without_alignment_the_photo_is_kept_with_its_mask(models):
    photo = _photo("orl_faces/s3/4.pgm")
    prepared = prepare_face(models, photo, align=False, part_masks=True)
    assert prepared.image is photo
    assert prepared.part_mask.shape == photo.shape[:2]
    assert prepared.record["faces_found"] == 1
    assert prepared.record["detector_score"] > 0


def test_a_photo_without_a_face_raises(models):
    with pytest.raises(NoFaceFound, match="no face found"):
        prepare_face(models, np.full((120, 100, 3), 90, np.uint8), align=True, part_masks=False)
