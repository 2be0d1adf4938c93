"""Relevance sanity checks: cascading randomisation and input invariance."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from modelsvc import ModelSpec, load_model
from modelsvc.architectures import SmallCNN
from modelsvc.relevance import explain
from modelsvc.sanity import (
    cascading_randomisation,
    input_invariance,
    map_similarities,
    sanity_checks,
)


def relevance(method):
    def explainer(model, inputs, targets):
        return explain(model, inputs, method=method, targets=targets).relevance.sum(1)

    return explainer


def edges(model, inputs, targets):
    """An 'explanation' that never looks at the model: the image's edge strength."""
    grey = inputs.mean(1).numpy()
    return torch.from_numpy(np.hypot(ndimage.sobel(grey, 1), ndimage.sobel(grey, 2)))


@pytest.fixture(scope="module")
def model_and_inputs():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).eval()
    inputs = torch.rand(4, 3, 32, 32)
    return model, inputs


def test_randomising_layers_from_the_top_separates_model_dependent_maps_from_edges(
    model_and_inputs,
):
    model, inputs = model_and_inputs
    before = {name: value.clone() for name, value in model.state_dict().items()}
    gradient = cascading_randomisation(model, inputs, relevance("gradient"))
    edge = cascading_randomisation(model, inputs, edges)
    layers = [name for name, m in model.named_modules() if hasattr(m, "reset_parameters")]
    assert gradient["layer"].tolist() == layers[::-1]  # output layer first
    assert edge[
        ["spearman_abs", "spearman_signed", "ssim", "top_iou"]
    ].min().min() == pytest.approx(1.0)
    last = gradient.iloc[-1]
    assert last["spearman_abs"] < 0.5
    assert last["top_iou"] < 0.5
    lrp = cascading_randomisation(model, inputs, relevance("epsilon_plus_flat"))
    assert lrp.iloc[-1]["spearman_signed"] < 0.9  # the signed LRP maps move away too
    for name, value in model.state_dict().items():  # the model itself is left as it was
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


def test_map_similarities_by_hand():
    a = np.arange(1.0, 65.0).reshape(1, 8, 8)
    b = a[:, ::-1, ::-1].copy()
    same = map_similarities(a, a, 0.5)
    assert same == pytest.approx({"spearman_abs": 1, "spearman_signed": 1, "ssim": 1, "top_iou": 1})
    reversed_ = map_similarities(a, b, 0.5)
    assert reversed_["spearman_abs"] == pytest.approx(-1)
    assert reversed_["top_iou"] == 0  # top half: values 33-64 vs 1-32
    assert reversed_["ssim"] < 0.5


def test_a_shift_the_model_cannot_see_leaves_gradients_alone_but_not_gradient_times_input():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 14 * 14, 2))
    inputs = torch.rand(3, 3, 16, 16)
    gradient = input_invariance(model, inputs, relevance("gradient"))
    times_input = input_invariance(model, inputs, relevance("gradient_x_input"))
    assert gradient["max_logit_change"] < 1e-4
    assert gradient["spearman_signed"] == pytest.approx(1.0, abs=1e-6)
    assert times_input["top_iou"] < 0.8  # measured 0.63: the most relevant pixels move


def test_a_zero_padding_first_convolution_is_padded_with_the_shift(model_and_inputs):
    model, inputs = model_and_inputs  # its first convolution pads with zeros
    gradient = input_invariance(model, inputs, relevance("gradient"))
    assert gradient["max_logit_change"] < 1e-4  # the shifted model computes the same
    assert gradient["spearman_signed"] == pytest.approx(1.0, abs=1e-5)
    assert isinstance(model.features[0], nn.Conv2d)  # the model itself is left as it was
    assert model.features[0].padding == (1, 1)


def test_input_invariance_needs_a_bias_that_can_absorb_the_shift():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(ValueError, match="absorb the shift"):
        input_invariance(model, torch.rand(2, 3, 8, 8), relevance("gradient"))
    reflecting = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="absorb the shift"):
        input_invariance(reflecting, torch.rand(2, 3, 8, 8), relevance("gradient"))


def test_sanity_checks_of_an_lrp_method_on_pixel_images():
    spec = ModelSpec(architecture="small_cnn", num_classes=3, input_size=(32, 32), seed=0)
    model = load_model(spec, torch.device("cpu"))
    images = torch.rand(3, 3, 32, 32)
    found = sanity_checks(model, spec, images, method="epsilon_plus_flat", targets=[0, 1, 2])
    layers = [n for n, m in model.named_modules() if hasattr(m, "reset_parameters")]
    assert found.randomisation["layer"].tolist() == layers[::-1]
    assert found.randomisation.iloc[-1]["spearman_signed"] < 0.9
    assert found.invariance["max_logit_change"] < 1e-4
    assert set(found.invariance) >= {"spearman_abs", "ssim", "top_iou"}


def test_the_randomisation_check_equals_quantus_mprt(model_and_inputs):
    """Quantus 0.6.0's MPRT (top-down, seed 42, Spearman of absolute maps) on the same model and
    maps: the same layers in the same order, the same per-image similarities. Definitions differ
    elsewhere: Quantus also reports the original model's self-similarity (1.0) as a first
    entry, which is left out here."""
    quantus = pytest.importorskip("quantus")
    model, inputs = model_and_inputs
    targets = model(inputs).argmax(1)
    ours = cascading_randomisation(model, inputs, relevance("gradient"), targets=targets)

    def explain_func(model, inputs, targets, **_):
        maps = relevance("gradient")(
            model.eval(), torch.as_tensor(inputs), torch.as_tensor(targets)
        )
        return maps.unsqueeze(1).detach().numpy()

    metric = quantus.MPRT(
        layer_order="top_down", seed=42, disable_warnings=True, display_progressbar=False
    )
    theirs = metric(
        model=model,
        x_batch=inputs.numpy(),
        y_batch=targets.numpy(),
        a_batch=None,
        explain_func=explain_func,
        device="cpu",
    )
    theirs.pop("original")
    assert list(theirs) == ours["layer"].tolist()
    np.testing.assert_allclose(
        [np.mean(v) for v in theirs.values()], ours["spearman_abs"], rtol=1e-9
    )
