"""make_dataset / write_dataset: labels, balance, determinism and the on-disk format."""

import csv
import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from facegen import PART_NAMES, FaceParams, ViewParams, make_dataset, render_face, write_dataset

SMALL = {"n_identities": 6, "images_per_identity": 3, "size": 48}


def _files(directory):
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_names_labels_and_balance():
    samples = make_dataset(
        n_identities=12, images_per_identity=4, size=64, seed=0, glasses_rate=0.3
    )
    assert len(samples) == 48
    assert [s.name for s in samples[:5]] == ["id00_v0", "id00_v1", "id00_v2", "id00_v3", "id01_v0"]
    identities = {s.labels["identity"]: s.labels for s in samples}
    assert sorted(identities) == [f"id{i:02d}" for i in range(12)]
    assert Counter(labels["gender"] for labels in identities.values()) == {"female": 6, "male": 6}
    # round(0.3 * 6) = 2 identities with glasses in each gender.
    assert Counter((lab["gender"], lab["glasses"]) for lab in identities.values()) == {
        ("female", "yes"): 2, ("female", "no"): 4, ("male", "yes"): 2, ("male", "no"): 4,
    }  # fmt: skip
    for sample in samples:
        assert sample.name.startswith(sample.labels["identity"] + "_v")
        assert sample.labels["glasses"] == ("yes" if sample.params.glasses else "no")
        assert sample.image.size == (64, 64)
        assert sample.parts.shape == (64, 64)
        # At 64 px and more the frames are wide enough to win the majority vote of the label map.
        assert (sample.labels["glasses"] == "yes") == bool(
            (sample.parts == PART_NAMES.index("glasses")).any()
        )


def test_per_gender_glasses_rates_plant_a_correlation_and_change_nothing_else():
    biased = make_dataset(**SMALL, seed=3, glasses_rate={"female": 1.0, "male": 0.0})
    control = make_dataset(**SMALL, seed=3, glasses_rate=0.5)
    pairs = Counter((s.labels["gender"], s.labels["glasses"]) for s in biased[::3])
    assert pairs == {("female", "yes"): 3, ("male", "no"): 3}
    assert Counter((s.labels["gender"], s.labels["glasses"]) for s in control[::3]) == {
        ("female", "yes"): 2, ("female", "no"): 1, ("male", "yes"): 2, ("male", "no"): 1,
    }  # fmt: skip
    for one, other in zip(biased, control, strict=True):
        assert one.labels["gender"] == other.labels["gender"]
        assert one.view == other.view
        assert replace(one.params, glasses=False) == replace(other.params, glasses=False)


def test_views_of_one_identity_share_params_but_not_pixels():
    samples = make_dataset(**SMALL, seed=1)
    first, second = samples[0], samples[1]
    assert first.params == second.params
    assert first.view != second.view
    assert not np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert samples[0].params != samples[3].params


def test_identity_does_not_depend_on_the_number_of_views():
    few, many = make_dataset(4, 1, 32, seed=5), make_dataset(4, 3, 32, seed=5)
    assert [s.params for s in few] == [s.params for s in many[::3]]
    assert [s.view for s in few] == [s.view for s in many[::3]]


def test_odd_number_of_identities_differs_by_one():
    samples = make_dataset(n_identities=5, images_per_identity=1, size=32)
    assert Counter(s.labels["gender"] for s in samples) == {"female": 3, "male": 2}


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(tmp_path):
    first = _files(write_dataset(tmp_path / "a", **SMALL, seed=3))
    again = _files(write_dataset(tmp_path / "b", **SMALL, seed=3))
    other = _files(write_dataset(tmp_path / "c", **SMALL, seed=4))
    assert first == again
    assert first.keys() == other.keys()
    differing = [
        name for name in first if name.startswith("images/") and first[name] != other[name]
    ]
    assert len(differing) == SMALL["n_identities"] * SMALL["images_per_identity"]


def test_written_format(tmp_path):
    root = write_dataset(tmp_path / "faces", **SMALL, seed=2)
    assert root == tmp_path / "faces"
    names = [f"id{i:02d}_v{v}" for i in range(6) for v in range(3)]
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(f"{n}.png" for n in names)
    assert sorted(p.name for p in (root / "masks").iterdir()) == sorted(f"{n}.png" for n in names)

    with open(root / "metadata.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["filename", "identity", "gender", "glasses"]
    assert [row[0] for row in rows[1:]] == [f"{n}.png" for n in names]
    assert {row[2] for row in rows[1:]} == {"female", "male"}
    assert {row[3] for row in rows[1:]} <= {"yes", "no"}

    assert json.loads((root / "parts.json").read_text()) == list(PART_NAMES)
    image = Image.open(root / "images" / "id00_v0.png")
    mask = Image.open(root / "masks" / "id00_v0.png")
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (48, 48))
    assert (mask.format, mask.mode, mask.size) == ("PNG", "L", (48, 48))
    assert np.asarray(mask).max() < len(PART_NAMES)

    params = json.loads((root / "params.json").read_text())
    assert params["settings"] == {**SMALL, "seed": 2, "glasses_rate": 0.3, "view_variation": 1.0}
    assert sorted(params["images"]) == sorted(f"{n}.png" for n in names)


def test_params_json_reproduces_the_images(tmp_path):
    root = write_dataset(tmp_path / "faces", **SMALL, seed=2)
    record = json.loads((root / "params.json").read_text())["images"]["id04_v2.png"]
    face = render_face(FaceParams(**record["face"]), ViewParams(**record["view"]), size=48)
    assert np.array_equal(
        np.asarray(face.image), np.asarray(Image.open(root / "images" / "id04_v2.png"))
    )
    assert np.array_equal(face.parts, np.asarray(Image.open(root / "masks" / "id04_v2.png")))


def test_write_dataset_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    with pytest.raises(
        ValueError,
        match=r"The 'directory' parameter of write_dataset must be an empty or new directory",
    ):
        write_dataset(tmp_path, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]
    write_dataset(tmp_path / "empty_is_fine", **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_identities": 1},
            r"The 'n_identities' parameter of make_dataset must be an int in \[2, ",
        ),
        ({"images_per_identity": 0}, r"'images_per_identity' parameter of make_dataset .*; got 0"),
        ({"size": 4}, r"'size' parameter of make_dataset must be an int in \[16, 1024\]; got 4"),
        ({"seed": -1}, r"'seed' parameter of make_dataset .*; got -1"),
        ({"seed": 1.5}, r"'seed' parameter of make_dataset .*; got 1.5"),
        (
            {"glasses_rate": 1.2},
            r"'glasses_rate' parameter of make_dataset .* \[0.0, 1.0\]; got 1.2",
        ),
        (
            {"glasses_rate": {"female": 0.9}},
            r"'glasses_rate' parameter of make_dataset must be a number or a mapping of",
        ),
        (
            {"glasses_rate": {"female": 0.9, "male": -0.1}},
            r"'glasses_rate\[male\]' parameter of make_dataset .*; got -0.1",
        ),
        ({"view_variation": -0.1}, r"'view_variation' parameter of make_dataset .*; got -0.1"),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(**kwargs)
