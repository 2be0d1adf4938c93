"""Relevance: the fast LRP path reproduces zennit (float64), conservation, baselines, API.

Relative error of a map = max |fast - zennit| / max |zennit| per image, worst image
(`helpers.max_relative_error`); the requirement is < 1e-5 in float64.
"""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from zennit.torchvision import VGGCanonizer

from modelsvc.architectures import SmallCNN
from modelsvc.relevance import FastPathUnsupported, compute_relevance, explain
from modelsvc.spec import ModelSpec
from tests.unit.modelsvc.helpers import max_relative_error, randomize, tiny_vgg

FAST_METHODS = ["epsilon_plus_flat", "epsilon_plus", "epsilon_alpha2_beta1_flat"]
TOLERANCE = 1e-5


def _inputs(n, size, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=generator, dtype=torch.float64)


def _assert_fast_equals_zennit(model, inputs, method, canonizers=()):
    fast = explain(model, inputs, method=method, backend="fast")
    reference = explain(
        model,
        inputs,
        method=method,
        backend="zennit",
        canonizers=list(canonizers),
        targets=fast.targets,
    )
    assert fast.backend == "fast"
    assert reference.backend == "zennit"
    assert fast.relevance.shape == inputs.shape
    assert max_relative_error(fast.relevance, reference.relevance) < TOLERANCE
    torch.testing.assert_close(fast.logits, reference.logits, rtol=1e-12, atol=1e-12)
    return fast


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize(("seed", "size"), [(0, 32), (1, 40), (2, 64)])
def test_fast_path_equals_zennit_on_small_cnn(method, seed, size):
    torch.manual_seed(seed)
    model = randomize(SmallCNN(num_classes=5), seed).double().eval()
    _assert_fast_equals_zennit(model, _inputs(3, size, seed), method)


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_path_equals_zennit_with_batch_norm_merged(method, seed):
    torch.manual_seed(seed)
    model = randomize(tiny_vgg(batch_norm=True), seed).double().eval()
    _assert_fast_equals_zennit(model, _inputs(2, 20, seed), method, [VGGCanonizer()])


def test_fast_path_equals_zennit_when_first_layer_is_linear():
    torch.manual_seed(0)
    model = (
        randomize(nn.Sequential(nn.Flatten(), nn.Linear(48, 12), nn.ReLU(), nn.Linear(12, 4)), 0)
        .double()
        .eval()
    )
    for method in FAST_METHODS:
        _assert_fast_equals_zennit(model, _inputs(4, 4, 0), method)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "size"), [(0, 32), (1, 48)])
def test_fast_path_equals_zennit_on_vgg16(seed, size):
    torch.manual_seed(seed)
    model = randomize(torchvision.models.vgg16(num_classes=20), seed).double().eval()
    _assert_fast_equals_zennit(model, _inputs(2, size, seed), "epsilon_plus_flat")


@pytest.mark.slow
def test_fast_path_equals_zennit_on_vgg16_bn():
    torch.manual_seed(3)
    model = randomize(torchvision.models.vgg16_bn(num_classes=20), 3).double().eval()
    _assert_fast_equals_zennit(model, _inputs(1, 32, 3), "epsilon_plus_flat", [VGGCanonizer()])


def test_fast_path_matches_zennit_in_float32():
    # float32 rounding only: the two paths agree to 3-5e-7 on VGG-16 at 224 px, while each
    # is up to ~1e-3 from float64 there (benchmarks/relevance.py --float32-error)
    torch.manual_seed(4)
    model = randomize(SmallCNN(num_classes=5), 4).eval()
    inputs = _inputs(4, 64, 4).float()
    fast = explain(model, inputs, backend="fast")
    reference = explain(model, inputs, backend="zennit", targets=fast.targets)
    assert max_relative_error(fast.relevance, reference.relevance) < 1e-4


def test_relevance_is_conserved_without_biases():
    # z+, flat, Norm and epsilon rules conserve relevance up to the stabilisers when all
    # biases are zero (each unit leaks R * eps / (z + eps)); initial relevance is 1 per image.
    torch.manual_seed(0)
    model = SmallCNN(num_classes=4).double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.bias.zero_()
    inputs = _inputs(3, 32, 0)
    tiny = {"epsilon": 1e-12, "stabilizer": 1e-12}
    for method in ("epsilon_plus_flat", "epsilon_plus"):
        result = explain(model, inputs, method=method, parameters=tiny)
        totals = result.relevance.sum(dim=(1, 2, 3))
        torch.testing.assert_close(totals, torch.ones(3, dtype=torch.float64), rtol=1e-8, atol=0)
    default = explain(model, inputs).relevance.sum(dim=(1, 2, 3))
    assert (default < 1).all()  # the default stabilisers (1e-6) do leak a little


def test_fast_path_is_chosen_automatically_and_falls_back_to_zennit():
    vgg_like = SmallCNN(num_classes=3).eval()
    resnet = torchvision.models.resnet18(num_classes=3).eval()
    inputs = torch.rand(2, 3, 32, 32)
    assert explain(vgg_like, inputs).backend == "fast"
    fallback = explain(resnet, inputs)
    assert fallback.backend == "zennit"
    assert torch.isfinite(fallback.relevance).all()
    with pytest.raises(FastPathUnsupported, match=r"layer1: Sequential has no fast LRP rule"):
        explain(resnet, inputs, backend="fast")


def test_fast_path_cache_follows_weight_changes():
    torch.manual_seed(0)
    model = randomize(SmallCNN(num_classes=3), 0).double().eval()
    inputs = _inputs(2, 32, 0)
    before = explain(model, inputs, backend="fast", targets=torch.tensor([0, 1])).relevance
    with torch.no_grad():
        model.features[3].weight.mul_(-1.5)  # in place: the cached W+ must be rebuilt
    after = _assert_fast_equals_zennit(model, inputs, "epsilon_plus_flat")
    assert not torch.equal(before, after.relevance)


def test_fast_path_equals_zennit_through_average_pooling():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((3, 2)),
        nn.Flatten(),
        nn.Linear(48, 4),
    )
    model = randomize(model, 0).double().eval()
    _assert_fast_equals_zennit(model, _inputs(2, 13, 0), "epsilon_plus_flat")


def test_plan_cache_signal_tensor_version_counts_in_place_changes():
    """The plan cache reads Tensor._version (private; a content hash of VGG-16's weights costs
    a multiple of a relevance call, see benchmarks/relevance.py): fail loudly if it changes."""
    model = SmallCNN(num_classes=3).eval()
    weight = model.features[0].weight
    before = weight._version
    assert isinstance(before, int)
    with torch.no_grad():
        weight.mul_(2.0)
    assert weight._version > before
    before = weight._version
    model.load_state_dict(model.state_dict())  # copies into the same tensors, in place
    assert weight._version > before
    assert weight.data_ptr() == model.features[0].weight.data_ptr()


def test_targets_default_to_the_predicted_class():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=6).eval()
    inputs = torch.rand(4, 3, 32, 32)
    result = explain(model, inputs)
    assert torch.equal(result.targets, result.logits.argmax(1))
    given = explain(model, inputs, targets=torch.tensor([5, 4, 3, 2]))
    assert given.targets.tolist() == [5, 4, 3, 2]
    assert not torch.equal(given.relevance, result.relevance)


def test_gradient_baselines_match_autograd():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).double().eval()
    inputs = _inputs(2, 32, 0)
    targets = torch.tensor([2, 0])
    leaf = inputs.clone().requires_grad_(True)
    model(leaf)[torch.arange(2), targets].sum().backward()
    gradient = explain(model, inputs, method="gradient", targets=targets)
    times_input = explain(model, inputs, method="gradient_x_input", targets=targets)
    assert gradient.backend == "autograd"
    torch.testing.assert_close(gradient.relevance, leaf.grad)
    torch.testing.assert_close(times_input.relevance, leaf.grad * inputs)


def test_epsilon_gamma_box_runs_through_zennit_with_pixel_bounds():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).eval()
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32))
    result = compute_relevance(model, spec, torch.rand(2, 3, 32, 32), method="epsilon_gamma_box")
    assert result.backend == "zennit"
    assert result.parameters["gamma"] == 0.25
    assert np.isfinite(result.maps).all()
    assert np.abs(result.maps).sum() > 0


def test_compute_relevance_returns_channel_summed_float32_maps_and_a_record():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).eval()
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32), mean=(0.5, 0.5, 0.5))
    images = torch.rand(3, 3, 32, 32)
    result = compute_relevance(model, spec, images, targets=np.array([0, 1, 2]))
    direct = explain(
        model,
        (images - 0.5) / torch.tensor(spec.std).view(1, 3, 1, 1),
        targets=torch.tensor([0, 1, 2]),
    )
    assert result.maps.dtype == np.float32
    assert result.maps.shape == (3, 32, 32)
    np.testing.assert_allclose(result.maps, direct.relevance.sum(1).numpy(), rtol=1e-5, atol=1e-9)
    assert result.targets.tolist() == [0, 1, 2]
    record = result.record()
    assert record["method"] == "epsilon_plus_flat"
    assert record["backend"] == "fast"
    assert record["parameters"] == {"epsilon": 1e-6, "stabilizer": 1e-6, "dtype": "float32"}
    assert record["code_version"].startswith("modelsvc-")


@pytest.mark.parametrize(("dtype", "min_r"), [(torch.bfloat16, 0.98), (torch.float16, 0.999)])
def test_low_precision_fast_path_is_close_to_float32(dtype, min_r):
    torch.manual_seed(0)
    model = randomize(SmallCNN(num_classes=3), 0).eval()
    inputs = torch.rand(3, 3, 64, 64)
    targets = torch.tensor([0, 1, 2])
    reference = explain(model, inputs, targets=targets).relevance.sum(1)
    low = explain(model, inputs, targets=targets, dtype=dtype)
    assert low.relevance.dtype == torch.float32  # computed in `dtype`, returned as float32
    assert low.logits.dtype == dtype
    for a, b in zip(low.relevance.sum(1), reference, strict=True):
        assert np.corrcoef(a.flatten(), b.flatten())[0, 1] > min_r


def test_training_mode_models_are_refused():
    with pytest.raises(ValueError, match="must be in eval mode"):
        explain(SmallCNN(num_classes=2).train(), torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lime"}, "'name' parameter of get_method"),
        ({"parameters": {"alpha": 2.0}}, "'parameters' parameter of the 'epsilon_plus_flat'"),
        ({"backend": "cuda"}, "'backend' parameter of explain"),
        ({"targets": torch.tensor([0])}, "'targets' parameter of explain"),
        ({"method": "gradient", "backend": "fast"}, "runs through autograd only"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    model = SmallCNN(num_classes=3).eval()
    with pytest.raises(ValueError, match=message):
        explain(model, torch.rand(2, 3, 32, 32), **kwargs)
