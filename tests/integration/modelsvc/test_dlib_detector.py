"""dlib's CNN face detector in modelsvc against dlib's C++ on real faces (ORL and OMI).

Skips with the reason when the models package, the datasets or libdlib-dev/g++ are absent.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelsvc.builtin import get_builtin
from modelsvc.dlib_detector import detect_faces, load_face_detector, pyramid_rects
from tests.integration.modelsvc import dlib_oracle

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))
SETS = {
    "orl": [f"orl_faces/s{i}/{1 + i % 10}.pgm" for i in range(1, 13)],
    "omi": [f"omi_faces/images/{i}.jpg" for i in range(1, 97, 8)],
}


def _detector_path() -> Path:
    try:
        folder = get_builtin("dlib_resnet29").weights_path().parent
    except ValueError as exc:
        pytest.skip(str(exc))
    return folder / "mmod_human_face_detector.dat"


def _iou(a, b) -> float:
    inner_w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    inner_h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inner = max(inner_w, 0) * max(inner_h, 0)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inner / (area(a) + area(b) - inner)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    reason = dlib_oracle.missing()
    if reason:
        pytest.skip(f"dlib's C++ reference cannot be built: {reason}")
    return dlib_oracle.compile_reference(tmp_path_factory.mktemp("dlib"), "dlib_detect")


@pytest.fixture(scope="module")
def photos():
    if not (DATASETS / "orl_faces").is_dir() or not (DATASETS / "omi_faces").is_dir():
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    return {
        name: np.stack([np.asarray(Image.open(DATASETS / f).convert("RGB")) for f in files])
        for name, files in SETS.items()
    }


@pytest.mark.slow
def test_detections_equal_dlib_cpp_on_24_real_faces(photos, reference, tmp_path):
    path = _detector_path()
    detector = load_face_detector(path)
    for name, images in photos.items():
        expected = dlib_oracle.reference_detections(reference, path, images, tmp_path)
        for index, (image, theirs) in enumerate(zip(images, expected, strict=True)):
            ours = detect_faces(detector, image)
            assert len(ours) == len(theirs) >= 1, (name, index)
            for face, (box, score) in zip(ours, theirs, strict=True):
                assert _iou(face.box, box) >= 0.95, (name, index, face.box, box)
                assert face.score == pytest.approx(score, abs=1e-4)


def test_a_photo_without_a_face_has_no_detection():
    detector = load_face_detector(_detector_path())
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
    assert detect_faces(detector, noise) == []
    assert detect_faces(detector, np.full((120, 100, 3), 128, dtype=np.uint8)) == []
    for shape in [(1, 1), (5, 5), (1, 300), (300, 1), (7, 2000)]:  # too small for the network
        assert detect_faces(detector, np.zeros((*shape, 3), dtype=np.uint8)) == []


def test_pyramid_layout_as_dlib_tiles_it():
    (height, width), rects = pyramid_rects(112, 92)
    assert (width, rects[0]) == (92 + 22, (11, 11, 92, 112))
    assert [r[3] for r in rects[:4]] == [112, 93, 77, 64]  # floor(5/6 h) per level
    canvas = np.zeros((height, width), dtype=int)
    for left, top, w, h in rects:
        assert min(left, top) >= 11
        assert left + w <= width - 11
        assert top + h <= height - 11
        canvas[top : top + h, left : left + w] += 1
    assert canvas.max() == 1  # levels never overlap


def test_a_grey_image_is_refused():
    detector = load_face_detector(_detector_path())
    with pytest.raises(ValueError, match="RGB uint8"):
        detect_faces(detector, np.zeros((50, 50), dtype=np.uint8))
