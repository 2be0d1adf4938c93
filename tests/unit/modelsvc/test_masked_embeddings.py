"""Embeddings of relevance-masked images (the model side of decision weighting)."""

import numpy as np
import pytest
import torch

from modelsvc import MaskingSettings, ModelSpec, extract_embeddings, load_model
from modelsvc.masked_embeddings import condition_key, masked_embeddings

SPEC = ModelSpec(
    architecture="small_cnn", num_classes=2, input_size=(64, 64), layers=("features.11",)
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return load_model(SPEC)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(6, 3, 64, 64, generator=generator)
    maps = np.random.default_rng(2).random((6, 64, 64))
    return images, maps, [f"img{i}" for i in range(6)]


def test_keeping_every_pixel_gives_the_unmasked_embeddings(model, batch):
    images, maps, keys = batch
    out = masked_embeddings(
        model,
        SPEC,
        images,
        maps,
        keys,
        MaskingSettings(fractions=(1.0,), fill="zeros"),
        "features.11",
    )
    plain = extract_embeddings(model, SPEC, images, ["features.11"])["features.11"]
    np.testing.assert_allclose(out[condition_key("relevance", 1.0)], plain, rtol=1e-6)
    np.testing.assert_allclose(out[condition_key("random", 1.0)], plain, rtol=1e-6)


def test_results_do_not_depend_on_the_batch(model, batch):
    images, maps, keys = batch
    settings = MaskingSettings(fractions=(0.1, 0.3), fill="noise", seed=4)
    whole = masked_embeddings(model, SPEC, images, maps, keys, settings, "features.11")
    parts = [
        masked_embeddings(model, SPEC, images[s], maps[s], keys[s], settings, "features.11")
        for s in (slice(0, 2), slice(2, 6))
    ]
    for key, values in whole.items():
        np.testing.assert_allclose(
            np.concatenate([p[key] for p in parts]), values, rtol=1e-5, atol=1e-6
        )


def test_relevance_and_random_masks_differ_and_k_matters(model, batch):
    images, maps, keys = batch
    out = masked_embeddings(
        model,
        SPEC,
        images,
        maps,
        keys,
        MaskingSettings(fractions=(0.05, 0.5), fill="zeros"),
        "features.11",
    )
    assert set(out) == {"relevance|0.05", "relevance|0.5", "random|0.05", "random|0.5"}
    assert not np.allclose(out["relevance|0.05"], out["random|0.05"])
    assert not np.allclose(out["relevance|0.05"], out["relevance|0.5"])


def test_bad_inputs_name_the_parameter(model, batch):
    images, maps, keys = batch
    settings = MaskingSettings(fractions=(0.1,), fill="zeros")
    with pytest.raises(ValueError, match="conditions"):
        masked_embeddings(
            model, SPEC, images, maps, keys, settings, "features.11", conditions=("center",)
        )
    with pytest.raises(ValueError, match="keys"):
        masked_embeddings(model, SPEC, images, maps, keys[:2], settings, "features.11")
