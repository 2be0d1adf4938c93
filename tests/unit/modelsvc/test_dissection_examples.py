"""The examples' thresholded maps are the pixels the counts counted (modelsvc.dissection)."""

import numpy as np
import pytest
import torch
from torch import nn

from facegen import make_dataset
from facegen.dictionary import dictionary_columns
from modelsvc.dissection import build_dictionary
from modelsvc.dissection.activations import dissect_units, tensor_batches
from modelsvc.dissection.examples import fired_masks


def test_fired_masks_cover_exactly_the_counted_pixels():
    samples = make_dataset(n_identities=4, images_per_identity=2, size=32, seed=2)
    columns = dictionary_columns(samples)
    dictionary = build_dictionary(
        names=[s.name for s in samples],
        label_maps=[s.parts for s in samples],
        part_names=columns["part_names"],
        part_groups=columns["part_groups"],
        min_positives=1,
    )
    images = torch.stack(
        [torch.from_numpy(np.asarray(s.image, np.float32) / 255).permute(2, 0, 1) for s in samples]
    )
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)).eval()
    counts = dissect_units(
        model,
        layers=["2"],
        batches=tensor_batches(images, 3),
        dictionary=dictionary,
        top_fraction=0.05,
    )["2"]
    rows = np.array([0, 3, 5, 7, 1])
    units = np.array([0, 1, 2, 3, 3])
    masks = fired_masks(
        model,
        layer="2",
        images=images[rows],
        units=units,
        thresholds=counts.threshold,
        mask_size=dictionary.mask_size,
    )
    assert masks.shape == (5, 32, 32)
    np.testing.assert_array_equal(masks.sum(axis=(1, 2)), counts.activated[rows, units])
    parts = dictionary.part_masks(rows)
    np.testing.assert_array_equal(
        (masks[:, None] & parts).sum(axis=(2, 3)), counts.intersection[rows, units]
    )
    with pytest.raises(ValueError, match="one unit per image"):
        fired_masks(
            model,
            layer="2",
            images=images[:2],
            units=units,
            thresholds=counts.threshold,
            mask_size=dictionary.mask_size,
        )
