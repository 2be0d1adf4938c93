"""dlib's landmark predictors and aligned face chips by modelsvc against dlib's C++ on real faces.

The same grayscale images and the same face box go to both sides (no detector yet). Skips
with the reason when the models package, the datasets or libdlib-dev/g++ are absent.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelsvc.builtin import get_builtin
from modelsvc.dlib_align import extract_face_chip
from modelsvc.dlib_landmarks import load_shape_predictor, predict_landmarks
from modelsvc.dlib_parts import LANDMARK_PART_NAMES, part_label_map
from tests.integration.modelsvc import dlib_oracle

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))
#: (folder, images, box (left, top, right, bottom) around the face)
SETS = {
    "orl": ([f"orl_faces/s{i}/{1 + i % 10}.pgm" for i in range(1, 13)], (10, 20, 81, 100)),
    "omi": ([f"omi_faces/images/{i}.jpg" for i in range(1, 97, 8)], (48, 64, 207, 223)),
}


def _predictor_path(points: int) -> Path:
    """The predictor file shipped beside the face-recognition network."""
    try:
        folder = get_builtin("dlib_resnet29").weights_path().parent
    except ValueError as exc:
        pytest.skip(str(exc))
    return folder / f"shape_predictor_{points}_face_landmarks.dat"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    reason = dlib_oracle.missing()
    if reason:
        pytest.skip(f"dlib's C++ reference cannot be built: {reason}")
    return dlib_oracle.compile_reference(tmp_path_factory.mktemp("dlib"), "dlib_landmarks")


@pytest.fixture(scope="module")
def faces():
    if not (DATASETS / "orl_faces").is_dir() or not (DATASETS / "omi_faces").is_dir():
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    return {
        name: (np.stack([np.asarray(Image.open(DATASETS / f).convert("L")) for f in files]), box)
        for name, (files, box) in SETS.items()
    }


@pytest.mark.slow
@pytest.mark.parametrize("points", [5, 68])
def test_landmarks_equal_dlib_cpp_on_24_real_faces(faces, reference, tmp_path, points):
    path = _predictor_path(points)
    predictor = load_shape_predictor(path)  # the 68-point file takes ~2 min the first time
    assert predictor.num_parts == points
    errors = []
    for images, box in faces.values():
        expected = dlib_oracle.reference_landmarks(reference, path, images, box, tmp_path)
        ours = np.stack([predict_landmarks(predictor, image, box) for image in images])
        assert ours.shape == expected.shape == (12, points, 2)
        errors.append(np.linalg.norm(ours - expected, axis=-1))
    errors = np.concatenate(errors)
    print(f"{points} points: mean error {errors.mean():.3f} px, max {errors.max():.3f} px")
    assert errors.mean() <= 1.0
    assert np.median(errors) == 0  # the same integer pixels, as a rule


@pytest.fixture(scope="module")
def chips_reference(tmp_path_factory):
    reason = dlib_oracle.missing()
    if reason:
        pytest.skip(f"dlib's C++ reference cannot be built: {reason}")
    return dlib_oracle.compile_reference(tmp_path_factory.mktemp("dlib"), "dlib_chips")


def test_aligned_chips_equal_dlib_cpp_on_24_real_faces(faces, chips_reference, tmp_path):
    predictor = load_shape_predictor(_predictor_path(5))
    for name, (gray, box) in faces.items():
        files = SETS[name][0]
        rgb = np.stack([np.asarray(Image.open(DATASETS / f).convert("RGB")) for f in files])
        landmarks = np.stack([predict_landmarks(predictor, image, box) for image in gray])
        expected = dlib_oracle.reference_chips(chips_reference, rgb, landmarks, tmp_path)
        pairs = zip(rgb, landmarks, strict=True)
        ours = np.stack([extract_face_chip(image, marks) for image, marks in pairs])
        assert ours.shape == expected.shape == (12, 150, 150, 3)
        difference = np.abs(ours.astype(int) - expected.astype(int))
        print(f"{name}: max chip difference {difference.max()} grey levels")
        assert difference.max() <= 1
        assert (difference == 0).mean() > 0.999


def test_a_face_larger_than_twice_the_chip_is_refused():
    big = np.zeros((800, 800), dtype=np.uint8)
    eyes_and_nose = np.array([[600, 250], [500, 250], [200, 250], [300, 250], [400, 500]])
    with pytest.raises(ValueError, match="pyramid path is not implemented"):
        extract_face_chip(big, eyes_and_nose)


#: ORL s1/1.pgm, pixels read off an overlay of the label map on the photo (checked by eye).
HAND_CHECKED = {
    (28, 52): "right_eye",  # the subject's right eye, on the image's left
    (61, 51): "left_eye",
    (25, 42): "right_brow",
    (64, 42): "left_brow",
    (45, 65): "nose",
    (47, 89): "mouth",
    (25, 75): "skin",  # cheek
    (46, 25): "background",  # forehead above the brows: not estimable from landmarks
    (3, 108): "background",
}


def test_part_masks_from_68_landmarks_on_a_hand_checked_face(faces):
    predictor = load_shape_predictor(_predictor_path(68))
    with Image.open(DATASETS / "orl_faces" / "s1" / "1.pgm") as photo:
        gray = np.asarray(photo.convert("L"))
    labels = part_label_map(predict_landmarks(predictor, gray, SETS["orl"][1]), gray.shape)
    assert labels.shape == gray.shape
    assert labels.dtype == np.uint8
    for (x, y), part in HAND_CHECKED.items():
        assert LANDMARK_PART_NAMES[labels[y, x]] == part, (x, y)
    assert set(np.unique(labels)) == set(range(len(LANDMARK_PART_NAMES)))  # every part present
