"""Architecture registry: every entry builds, knows its layers and head; seeded init."""

import pytest
import torch
from torch import nn

from modelsvc.architectures import ARCHITECTURES, get_architecture, get_module, set_module
from modelsvc.spec import ModelSpec
from modelsvc.weights import build_model


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_each_architecture_builds_with_its_layers_and_head(name):
    arch = get_architecture(name)
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = arch.build(7)
    modules = dict(model.named_modules())
    assert all(layer in modules for layer in arch.layers)
    assert isinstance(modules[arch.head], nn.Linear)
    assert modules[arch.head].out_features == 7


def test_small_cnn_output_shape_and_seeded_initialisation():
    spec = ModelSpec("small_cnn", 4, input_size=(64, 64), seed=5)
    first, again, other = build_model(spec), build_model(spec), build_model(spec.replace(seed=6))
    assert first(torch.rand(2, 3, 64, 64)).shape == (2, 4)
    assert torch.equal(first.features[0].weight, again.features[0].weight)
    assert not torch.equal(first.features[0].weight, other.features[0].weight)


def test_building_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(ModelSpec("small_cnn", 2))
    assert torch.equal(torch.rand(3), expected)


def test_unknown_names_are_errors_listing_the_options():
    with pytest.raises(ValueError, match="'name' parameter of get_architecture"):
        get_architecture("alexnet")
    model = build_model(ModelSpec("small_cnn", 2))
    with pytest.raises(ValueError, match=r"Available: \['features'"):
        get_module(model, "features.99")
    set_module(model, "classifier.3", nn.Linear(128, 9))
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 9)
