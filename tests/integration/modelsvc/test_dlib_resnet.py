"""dlib's face-recognition network read by modelsvc against dlib's own C++ on real faces.

Skips with the reason when the models package, the datasets or libdlib-dev/g++ are absent.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modelsvc.builtin import builtin_spec
from modelsvc.images import normalize
from modelsvc.weights import load_model
from tests.integration.modelsvc import dlib_oracle

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))


def _spec_or_skip():
    try:
        return builtin_spec("dlib_resnet29")
    except ValueError as exc:
        pytest.skip(str(exc))


def _chips(paths) -> np.ndarray:
    """Each photo resized to the same 150x150 RGB chip for both sides (no alignment)."""
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((150, 150), Image.BILINEAR)) for p in paths]
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    reason = dlib_oracle.missing()
    if reason:
        pytest.skip(f"dlib's C++ reference cannot be built: {reason}")
    return dlib_oracle.compile_reference(tmp_path_factory.mktemp("dlib"))


@pytest.fixture(scope="module")
def faces():
    orl, omi = DATASETS / "orl_faces", DATASETS / "omi_faces" / "images"
    if not (orl.is_dir() and omi.is_dir()):
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    paths = [orl / f"s{i}" / f"{1 + i % 10}.pgm" for i in range(1, 13)]
    paths += [omi / f"{i}.jpg" for i in range(1, 97, 8)]
    return _chips(paths)


def test_embeddings_equal_dlib_cpp_on_24_real_faces(faces, reference, tmp_path):
    spec = _spec_or_skip()
    assert len(faces) == 24
    expected = dlib_oracle.reference_embeddings(reference, Path(spec.weights_path), faces, tmp_path)
    model = load_model(spec)
    pixels = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        ours = model(normalize(pixels, spec)).double().numpy()
    assert expected.shape == (24, 128)
    worst = np.abs(ours - expected).max()
    print(f"max |ours - dlib C++| = {worst:.3g}")
    assert worst <= 1e-4
    # real descriptors, not a degenerate output: different people are far apart
    assert np.linalg.norm(expected[0] - expected[1]) > 0.3
