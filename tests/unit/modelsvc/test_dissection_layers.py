"""Layers that can be dissected, from output shapes on the meta device (no weights read)."""

import pytest

from modelsvc import ModelSpec
from modelsvc.dissection.layers import dissection_layers, layer_output_shapes


@pytest.mark.parametrize(
    ("architecture", "size", "kept"),
    [
        ("small_cnn", (64, 64), ["features.11"]),  # classifier.1 is fully connected
        ("vgg16", (224, 224), ["features.30"]),  # classifier.1 and .4 too
        ("resnet50", (224, 224), ["layer3", "layer4"]),  # avgpool is 1 x 1
        ("dlib_resnet29_head", (150, 150), ["layers.6", "layers.9", "layers.12", "layers.13"]),
    ],
)
def test_by_default_the_layers_of_interest_that_give_maps(architecture, size, kept):
    assert dissection_layers(ModelSpec(architecture, 2, input_size=size)) == kept


def test_shapes_follow_the_input_size():
    spec = ModelSpec("small_cnn", 2, input_size=(128, 96))
    assert layer_output_shapes(spec, ["features.11", "classifier.1"]) == {
        "features.11": (1, 64, 8, 6),
        "classifier.1": (1, 128),
    }


def test_named_layers_must_exist_and_give_maps():
    spec = ModelSpec("small_cnn", 2, input_size=(64, 64))
    assert dissection_layers(spec, ["features.4"]) == ["features.4"]
    with pytest.raises(ValueError, match=r"\{'classifier.1': \(1, 128\)\} are not"):
        dissection_layers(spec, ["features.4", "classifier.1"])
    with pytest.raises(ValueError, match="'conv9' is not a layer of the small_cnn"):
        dissection_layers(spec, ["conv9"])
    only_flat = spec.replace(layers=("classifier.1",))
    with pytest.raises(ValueError, match="None of the model's layers of interest"):
        dissection_layers(only_flat)
