"""Image discovery, metadata, loading with per-file errors, normalisation."""

import numpy as np
import pytest
import torch
from PIL import Image

from modelsvc.images import (
    ImageLoadError,
    discover_images,
    load_batch,
    load_image,
    normalize,
    read_metadata,
)
from modelsvc.spec import ModelSpec


def test_rgb_and_grayscale_images_load_as_rgb_in_unit_range(tmp_path):
    Image.fromarray(np.full((30, 20), 255, np.uint8), "L").save(tmp_path / "gray.pgm")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), "RGB").save(tmp_path / "black.png")
    gray = load_image(tmp_path / "gray.pgm", (16, 12))
    assert gray.shape == (3, 16, 12)
    assert gray.dtype == torch.float32
    assert torch.all(gray == 1.0)
    assert torch.all(load_image(tmp_path / "black.png", (16, 16)) == 0.0)


def test_corrupt_files_fail_per_item_naming_the_file(image_folder):
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    good = image_folder / "img00.png"
    truncated = image_folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:-40])
    missing = image_folder / "missing.png"
    batch = load_batch([good, image_folder / "broken.png", truncated, missing], (24, 24))
    assert batch.loaded == [0]
    assert batch.failed == [1, 2, 3]
    assert batch.images.shape == (1, 3, 24, 24)
    assert all(isinstance(e, ImageLoadError) for e in batch.errors)
    assert [e.path for e in batch.errors] == [
        str(image_folder / "broken.png"),
        str(truncated),
        str(missing),
    ]
    assert "broken.png" in str(batch.errors[0])
    assert batch.errors[0].reason


def test_discover_and_metadata(image_folder):
    items = discover_images(image_folder)
    assert [item.key for item in items] == [f"img{i:02d}.png" for i in range(10)]
    labelled = read_metadata(image_folder / "metadata.csv", image_folder)
    assert labelled[3].labels == {"colour": "b", "identity": "p1"}
    assert labelled[3].path == image_folder / "img03.png"
    with pytest.raises(ValueError, match="'filename_column' parameter of read_metadata"):
        read_metadata(image_folder / "metadata.csv", image_folder, "file")
    with pytest.raises(ValueError, match="must be a directory"):
        discover_images(image_folder / "img00.png")


def test_duplicate_rows_in_metadata_are_an_error(tmp_path):
    (tmp_path / "m.csv").write_text("filename,label\na.png,x\na.png,y\n")
    with pytest.raises(ValueError, match=r"lists files twice: \['a.png'\]"):
        read_metadata(tmp_path / "m.csv", tmp_path)


def test_normalize_uses_the_spec_mean_and_std():
    spec = ModelSpec("small_cnn", 2, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    out = normalize(torch.ones(1, 3, 2, 2), spec)
    assert out[0, :, 0, 0].tolist() == [1.0, 3.0, 0.5]
