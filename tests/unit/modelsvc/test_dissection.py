"""Dissection on the torch side: the Face Dictionary, exact streamed thresholds, counts."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from facegen import make_dataset
from facegen.dictionary import dictionary_columns
from modelsvc.dissection import build_dictionary, dictionary_from_directory
from modelsvc.dissection.activations import (
    dissect_units,
    float32_below,
    randomized_copy,
    tensor_batches,
    unit_counts,
    unit_thresholds,
)
from modelsvc.dissection.reference import naive_dissect_units


def _dictionary(n_images=6, size=4, min_positives=1, **kwargs):
    maps = np.zeros((n_images, size, size), np.uint8)
    maps[:, :2, :2] = 1  # part "a": top-left 2x2 block
    maps[:, 2:, 2:] = 2  # part "b": bottom-right 2x2 block
    return build_dictionary(
        names=[f"im{i}" for i in range(n_images)],
        label_maps=maps,
        part_names=("background", "a", "b"),
        min_positives=min_positives,
        **kwargs,
    )


def test_generated_faces_give_parts_local_attributes_and_global_concepts():
    samples = make_dataset(n_identities=24, images_per_identity=1, size=48, seed=3)
    dictionary = build_dictionary(
        names=[s.name for s in samples],
        label_maps=[s.parts for s in samples],
        **dictionary_columns(samples),
    )
    assert set(dictionary.parts) >= {"eyes", "brows", "nose", "mouth", "hair", "skin"}
    part, positives = dictionary.local["nose_width=high"]
    widths = np.array([s.params.nose_width for s in samples])
    assert part == "nose"
    assert widths[positives].min() >= np.quantile(widths, 2 / 3)
    assert (
        dictionary.global_["gender=male"] == [s.labels["gender"] == "male" for s in samples]
    ).all()
    assert dictionary.part_masks(slice(0, 2)).shape == (2, len(dictionary.parts), 48, 48)


def test_uploaded_set_reads_masks_parts_and_declared_columns(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    (tmp_path / "parts.json").write_text(json.dumps(["background", "nose"]))
    rows = ["filename,nose_shape,smile"]
    for i in range(6):
        mask = np.zeros((8, 8), np.uint8)
        mask[2:5, 3:5] = 1
        Image.fromarray(mask, "L").save(tmp_path / "masks" / f"f{i}.png")
        rows.append(f"f{i}.jpg,{'pointy' if i % 2 else 'round'},{i % 3 == 0}")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    dictionary = dictionary_from_directory(
        tmp_path,
        local_columns={"nose_shape": "nose"},
        global_columns=["smile"],
        min_positives=2,
    )
    assert list(dictionary.local) == ["nose_shape=pointy", "nose_shape=round"]
    assert list(dictionary.global_) == ["smile=False", "smile=True"]
    assert dictionary.part_masks(slice(0, 1))[0, 0].sum() == 6


def test_dictionary_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 3 positive .*'x=0' on 1 of 6"):
        _dictionary(local_columns={"x": ("a", [1, 1, 1, 1, 1, 0])}, min_positives=3)
    with pytest.raises(
        ValueError, match=r"tie each column to a part of \['a', 'b'\]; got 'x' -> 'c'"
    ):
        _dictionary(local_columns={"x": ("c", [1, 0, 1, 0, 1, 0])})
    with pytest.raises(ValueError, match=r"non-constant labels; got 'g' equal to 'm'"):
        _dictionary(global_columns={"g": ["m"] * 6})
    with pytest.raises(ValueError, match=r"2-D maps of one size; got sizes \[\(4, 4\), \(5, 5\)\]"):
        build_dictionary(
            names=["a", "b"],
            label_maps=[np.zeros((4, 4), np.uint8), np.zeros((5, 5), np.uint8)],
            part_names=("background", "a"),
        )
    with pytest.raises(ValueError, match=r"'part_groups' .* at least 4 images showing it"):
        build_dictionary(
            names=["a", "b"],
            label_maps=[np.ones((4, 4), np.uint8), np.ones((4, 4), np.uint8)],
            part_names=("background", "nose"),
        )


def _identity_layer():
    """A "network" whose layer '0' outputs its input: activations are planted directly."""
    return nn.Sequential(nn.Identity())


def test_threshold_is_the_linear_quantile_of_a_hand_computed_example():
    values = torch.arange(10, dtype=torch.float32).reshape(1, 1, 2, 5)  # 0..9, one unit
    thresholds = unit_thresholds(
        _identity_layer(), layers=["0"], batches=tensor_batches(values, 1), top_fraction=0.25
    )
    # np.quantile(0..9, 0.75): position 0.75 * 9 = 6.75 between 6 and 7
    assert thresholds["0"].tolist() == [6.75]


def test_iou_counts_of_a_hand_computed_example():
    dictionary = _dictionary(n_images=1)
    activation = torch.zeros(1, 1, 4, 4)
    activation[0, 0, 0, :3] = 1.0  # fires on 3 pixels: (0,0), (0,1), (0,2)
    counts = unit_counts(
        _identity_layer(),
        layers=["0"],
        batches=tensor_batches(activation, 1),
        dictionary=dictionary,
        thresholds={"0": np.array([0.5])},
    )["0"]
    # part a = rows 0-1 x cols 0-1: overlap 2 pixels, union 3 + 4 - 2 = 5 -> IoU 0.4
    assert counts.intersection[0, 0].tolist() == [2, 0]
    assert counts.activated[0].tolist() == [3]
    assert counts.part_area[0].tolist() == [4, 4]


def test_activations_are_upsampled_bilinearly_to_the_mask_size():
    dictionary = _dictionary(n_images=1)
    activation = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)
    counts = unit_counts(
        _identity_layer(),
        layers=["0"],
        batches=tensor_batches(activation, 1),
        dictionary=dictionary,
        thresholds={"0": np.array([0.5])},
    )["0"]
    # each row upsamples (align_corners=False) to 0, 0.25, 0.75, 1: columns 2-3 fire
    assert counts.activated[0].tolist() == [8]
    assert counts.intersection[0, 0].tolist() == [0, 4]


def _conv_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 5, 3, padding=1),
        nn.ReLU(inplace=True),
    ).eval()


@pytest.mark.parametrize("top_fraction", [0.005, 0.1])
def test_streamed_dissection_equals_the_naive_in_memory_computation(top_fraction):
    samples = make_dataset(n_identities=6, images_per_identity=3, size=32, seed=1)
    dictionary = build_dictionary(
        names=[s.name for s in samples],
        label_maps=[s.parts for s in samples],
        part_names=dictionary_columns(samples)["part_names"],
        part_groups=dictionary_columns(samples)["part_groups"],
        min_positives=1,
    )
    images = torch.stack(
        [torch.from_numpy(np.asarray(s.image, np.float32) / 255).permute(2, 0, 1) for s in samples]
    )
    model, layers = _conv_model(), ["0", "1", "3"]
    streamed = dissect_units(
        model,
        layers=layers,
        batches=tensor_batches(images, 5),
        dictionary=dictionary,
        top_fraction=top_fraction,
    )
    naive = naive_dissect_units(
        model,
        layers=layers,
        batches=tensor_batches(images, 7),
        dictionary=dictionary,
        top_fraction=top_fraction,
    )
    for layer in layers:
        for field in ("threshold", "intersection", "activated", "part_area"):
            np.testing.assert_array_equal(
                getattr(streamed[layer], field), getattr(naive[layer], field), err_msg=field
            )
        np.testing.assert_allclose(streamed[layer].response, naive[layer].response, rtol=1e-6)
        assert streamed[layer].activated.sum() > 0


def test_randomized_copy_changes_every_weight_and_leaves_the_model_alone():
    model = _conv_model()
    before = [p.clone() for p in model.parameters()]
    clone = randomized_copy(model, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert not any(torch.equal(a, b) for a, b in zip(before, clone.parameters(), strict=True))
    again = randomized_copy(model, seed=5)
    assert all(
        torch.equal(a, b) for a, b in zip(clone.parameters(), again.parameters(), strict=True)
    )


def test_float32_comparison_with_the_float64_threshold_is_exact():
    rng = np.random.default_rng(0)
    thresholds = rng.normal(size=2000)
    values = np.concatenate(
        [thresholds.astype(np.float32), np.nextafter(thresholds.astype(np.float32), np.inf)]
    )
    below = float32_below(thresholds)
    for shift in (values[:2000], values[2000:]):
        np.testing.assert_array_equal(shift > below, shift.astype(np.float64) > thresholds)
