"""Layer activations through hooks, and dissimilarity matrices."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from modelsvc.architectures import SmallCNN
from modelsvc.embeddings import capture_activations, extract_embeddings
from modelsvc.images import normalize
from modelsvc.similarity import dissimilarity_matrix
from modelsvc.spec import ModelSpec


@pytest.fixture
def model_and_spec():
    torch.manual_seed(0)
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32), layers=("features.11", "classifier.1"))
    return SmallCNN(num_classes=3).eval(), spec


def test_embeddings_per_layer_with_gap_and_flatten(model_and_spec):
    model, spec = model_and_spec
    images = torch.rand(5, 3, 32, 32)
    gap = extract_embeddings(model, spec, images)
    assert gap["features.11"].shape == (5, 64)
    assert gap["classifier.1"].shape == (5, 128)
    flat = extract_embeddings(model, spec, images, ["features.11"], pooling="flatten")
    assert flat["features.11"].shape == (5, 64 * 2 * 2)
    with torch.no_grad():
        pooled = model.features(normalize(images, spec))
    np.testing.assert_allclose(gap["features.11"], pooled.mean((2, 3)).numpy(), rtol=1e-6)


def test_hooked_conv_output_is_copied_before_the_inplace_relu(model_and_spec):
    model, spec = model_and_spec
    inputs = normalize(torch.rand(2, 3, 32, 32), spec)
    with capture_activations(model, ["features.0"], "flatten") as captured, torch.no_grad():
        model(inputs)
    expected = model.features[0](inputs).flatten(1)
    assert (expected < 0).any()  # the ReLU after features.0 works in place
    torch.testing.assert_close(captured["features.0"][0], expected)


def test_hooks_are_removed_even_after_an_error(model_and_spec):
    model, _ = model_and_spec
    with pytest.raises(RuntimeError), capture_activations(model, ["features.3"]):
        model(torch.rand(1, 5, 32, 32))  # wrong channel count
    assert not model.features[3]._forward_hooks
    with pytest.raises(ValueError, match="Available"):
        extract_embeddings(model, ModelSpec("small_cnn", 3), torch.rand(1, 3, 64, 64), ["nope"])


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean"])
def test_dissimilarity_matrices(metric):
    features = np.random.default_rng(0).normal(size=(6, 20))
    ids = [f"s{i}" for i in range(6)]
    result = dissimilarity_matrix(features, ids, metric, layer="fc7")
    assert result.stimulus_ids == tuple(ids)
    assert result.layer == "fc7"
    np.testing.assert_allclose(result.matrix, cdist(features, features, metric), atol=1e-12)
    np.testing.assert_allclose(np.diagonal(result.matrix), 0.0, atol=1e-12)
    assert result.upper_triangle().shape == (15,)
    if metric == "correlation":
        np.testing.assert_allclose(result.matrix, 1 - np.corrcoef(features), atol=1e-12)


def test_float16_embeddings_barely_change_the_matrix():
    features = np.abs(np.random.default_rng(1).normal(size=(12, 512))) * 3
    ids = [str(i) for i in range(12)]
    full = dissimilarity_matrix(features, ids).upper_triangle()
    half = dissimilarity_matrix(features.astype(np.float16), ids).upper_triangle()
    assert np.abs(full - half).max() < 1e-3
    assert np.corrcoef(full, half)[0, 1] > 0.9999


def test_undefined_dissimilarities_are_errors():
    features = np.random.default_rng(0).normal(size=(3, 4))
    features[1] = 2.0
    with pytest.raises(ValueError, match=r"constant: \['b'\]"):
        dissimilarity_matrix(features, ["a", "b", "c"])
    with pytest.raises(ValueError, match="duplicates"):
        dissimilarity_matrix(np.ones((2, 3)), ["a", "a"], "euclidean")
