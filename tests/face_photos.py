"""Two real face photos (ORL, OMI) for the face import options, and a photo without a face;
tests that need the photos skip when the face-recognition-models package or the datasets are
absent."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelsvc.builtin import get_builtin

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))
FACES = {"orl_s3.pgm": "orl_faces/s3/4.pgm", "omi_5.jpg": "omi_faces/images/5.jpg"}


def face_photos_or_skip() -> dict[str, bytes]:
    """File name -> bytes of the two photos."""
    try:
        get_builtin("dlib_resnet29").weights_path()
    except ValueError as exc:
        pytest.skip(str(exc))
    if not all((DATASETS / path).is_file() for path in FACES.values()):
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    return {name: (DATASETS / path).read_bytes() for name, path in FACES.items()}


def no_face_png() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
