"""Results do not depend on how a stimulus set is split into batches.

Each split below processes the set in calls of 3 images, 7 images or all 10; within a call
`map_over_images` runs fixed-size batches (padded), so results must be bit-identical.
"""

import numpy as np
import pytest
import torch

from modelsvc.architectures import SmallCNN
from modelsvc.embeddings import extract_embeddings
from modelsvc.image_runs import map_over_images
from modelsvc.images import read_metadata
from modelsvc.masking import MaskingSettings, evaluate_masking, random_maps
from modelsvc.relevance import compute_relevance
from modelsvc.spec import ModelSpec
from tests.unit.modelsvc.helpers import randomize

BATCH = 4


@pytest.fixture
def setup(image_folder):
    torch.manual_seed(0)
    model = randomize(SmallCNN(num_classes=2), 0).eval()
    spec = ModelSpec("small_cnn", 2, input_size=(24, 24), layers=("features.11", "classifier.1"))
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    return model, spec, items


def _in_calls(items, call_size, compute):
    """Run ``compute(images, keys)`` over `items` in calls of `call_size` items."""
    parts = []
    for start in range(0, len(items), call_size):
        call = items[start : start + call_size]
        run = map_over_images(
            call,
            (24, 24),
            lambda images, rows, call=call: compute(images, [call[r].key for r in rows]),
            BATCH,
        )
        parts.append(run.value)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@pytest.mark.parametrize("method", ["epsilon_plus_flat", "epsilon_gamma_box", "gradient"])
def test_relevance_maps(setup, method):
    model, spec, items = setup

    def compute(images, keys):
        result = compute_relevance(model, spec, images, method=method)
        return {"maps": result.maps, "logits": result.logits, "targets": result.targets}

    whole = _in_calls(items, len(items), compute)
    for call_size in (3, 7):
        split = _in_calls(items, call_size, compute)
        for key in whole:
            np.testing.assert_array_equal(split[key], whole[key])


def test_embeddings(setup):
    model, spec, items = setup
    whole = _in_calls(items, 10, lambda images, _: extract_embeddings(model, spec, images))
    for call_size in (3, 7):
        split = _in_calls(
            items, call_size, lambda images, _: extract_embeddings(model, spec, images)
        )
        for key in whole:
            np.testing.assert_array_equal(split[key], whole[key])


@pytest.mark.parametrize("fill", ["noise", "blur", "mean"])
def test_masking_with_random_masks(setup, fill):
    model, spec, items = setup
    settings = MaskingSettings(
        fractions=(0.1, 0.3),
        fill=fill,
        seed=7,
        fill_value=(0.4, 0.3, 0.2) if fill == "mean" else None,
    )

    def compute(images, keys):
        maps = random_maps(keys, (24, 24), seed=7)
        result = evaluate_masking(model, spec, images, maps, np.zeros(len(keys)), keys, settings)
        return {"correct": result.correct, "logit": result.target_logit}

    whole = _in_calls(items, 10, compute)
    for call_size in (3, 7):
        split = _in_calls(items, call_size, compute)
        for key in whole:
            np.testing.assert_array_equal(split[key], whole[key])
