"""The generated object classes: enough distinct classes, deterministic, labelled on disk."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import facegen
import objectgen
from objectgen.render import SHAPE_MASKS, TEXTURE_MASKS

REPO = Path(__file__).resolve().parents[3]


def test_there_are_at_least_20_classes_and_every_shape_and_texture_is_drawable():
    names = [c.name for c in objectgen.CLASSES]
    assert len(names) >= 20
    assert len(set(names)) == len(names)
    assert set(objectgen.SHAPES) == set(SHAPE_MASKS)
    assert set(objectgen.TEXTURES) == set(TEXTURE_MASKS)


def test_images_have_the_faces_size_and_the_same_seed_gives_the_same_pixels():
    samples = objectgen.make_dataset(images_per_class=2, size=64, seed=3, n_classes=4)
    again = objectgen.make_dataset(images_per_class=3, size=64, seed=3, n_classes=4)
    face = facegen.make_dataset(n_identities=2, images_per_identity=1, size=64)[0]
    assert len(samples) == 8
    assert {s.image.size for s in samples} == {face.image.size}
    by_name = {s.name: np.asarray(s.image) for s in again}
    for sample in samples:  # a view does not depend on how many views are drawn
        assert np.array_equal(np.asarray(sample.image), by_name[sample.name])
    other = objectgen.make_dataset(images_per_class=2, size=64, seed=4, n_classes=4)
    assert not np.array_equal(np.asarray(other[0].image), np.asarray(samples[0].image))


def test_classes_differ_in_shape_and_texture_not_only_in_colour():
    """Two classes rendered in the same view (same hue) still differ in their pixels' layout."""
    view = objectgen.ObjectView()
    first, second = objectgen.CLASSES[0], objectgen.CLASSES[1]  # circle: stripes vs checks
    same_hue = objectgen.ObjectClass(second.shape, second.texture, first.hue)
    a = np.asarray(objectgen.render_object(first, view, 64), dtype=float)
    b = np.asarray(objectgen.render_object(same_hue, view, 64), dtype=float)
    assert np.abs(a - b).mean() > 5
    square = objectgen.ObjectClass("square", first.texture, first.hue)
    c = np.asarray(objectgen.render_object(square, view, 64), dtype=float)
    assert np.abs(a - c).mean() > 5


def test_write_dataset_layout(tmp_path):
    root = objectgen.write_dataset(tmp_path / "objects", images_per_class=1, size=32)
    rows = list(csv.DictReader((root / "metadata.csv").open()))
    assert len(rows) == len(objectgen.CLASSES)
    assert set(rows[0]) == {"filename", "category", "shape", "texture"}
    assert rows[0]["category"] == f"{rows[0]['shape']}-{rows[0]['texture']}"
    assert all((root / "images" / row["filename"]).is_file() for row in rows)
    assert (root / "params.json").is_file()
    with pytest.raises(ValueError, match="empty or new directory"):
        objectgen.write_dataset(root, images_per_class=1, size=32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 1}, "The 'n_classes' parameter of make_dataset must be an int in [2, 24]"),
        ({"size": 8}, "The 'size' parameter of make_dataset must be an int in [16, 1024]"),
        ({"view_variation": 2.0}, "The 'view_variation' parameter of make_dataset"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        objectgen.make_dataset(**kwargs)


def test_cli_writes_the_dataset_and_reports_bad_arguments(tmp_path):
    def run(*args):
        command = [sys.executable, "-m", "objectgen", *args]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)

    result = run(str(tmp_path / "o"), "--per-class", "2", "--classes", "3", "--size", "32")
    assert result.returncode == 0, result.stderr
    assert "Wrote 6 object images (3 classes x 2, 32x32 px, seed 0)" in result.stdout
    assert len(list((tmp_path / "o" / "images").glob("*.png"))) == 6
    bad = run(str(tmp_path / "p"), "--classes", "99")
    assert bad.returncode == 2
    assert "The 'n_classes' parameter of make_dataset" in bad.stderr
