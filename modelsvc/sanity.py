"""Relevance sanity checks: does a method's map depend on the model it explains?

Cascading model-parameter randomisation (Adebayo et al. 2018): re-initialise the model's layers
one at a time from the output down, recompute the maps after each step and compare them with
the original maps.  A method that explains the model gives maps that drift away as layers are
randomised; a method whose maps barely change (an edge detector would not change at all)
fails the check.  Layer order and seeding follow Quantus's MPRT (`quantus.MPRT`,
layer_order="top_down"): the modules that have ``reset_parameters``, in reverse
``named_modules`` order, each reset after ``torch.manual_seed(seed + 1)``.  The targets stay
those of the original model.  On the same model and maps the Spearman column equals Quantus
0.6.0's MPRT layer by layer (tests/unit/modelsvc/test_sanity.py).

Similarities per image, averaged over images: Spearman of the absolute maps (Quantus's
default) and of the signed maps and the IoU of the top-`top_fraction` absolute pixels (all
three by `comparison.compare_maps`), and SSIM of the absolute maps scaled by their maximum
(skimage, data range 1).

`input_invariance` is the shift check of Kindermans et al. (2019): a constant shift of the input
absorbed by the first layer's bias leaves the model's outputs unchanged, so the maps should not
change either.  A first convolution that pads with zeros pads the shifted input with the shift
instead (an explicit constant pad before it), so the shifted model computes exactly what the
original computes there too.

`sanity_checks` runs both for one model and LRP method (`relevance_explainer`: the method with
the canonizers and input box of the model's spec, as `compute_relevance` uses them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from skimage.metrics import structural_similarity
from torch import nn

from modelsvc.comparison import compare_maps
from modelsvc.images import normalize
from modelsvc.relevance import explain
from modelsvc.relevance.attribution import spec_options
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_real

Explainer = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
"""(model, inputs, targets) -> maps (N, H, W)."""


def map_similarities(original: np.ndarray, other: np.ndarray, top_fraction: float) -> dict:
    """Mean over images of the four similarities between two stacks of maps (N, H, W)."""
    check_real("map_similarities", "top_fraction", top_fraction, low=0.0, high=1.0, low_open=True)
    absolute = compare_maps({"original": np.abs(original), "other": np.abs(other)}, [top_fraction])
    signed = compare_maps({"original": original, "other": other}, [top_fraction])
    ssim = [
        structural_similarity(_scaled(a), _scaled(b), data_range=1.0)
        for a, b in zip(np.abs(original), np.abs(other), strict=True)
    ]
    return {
        "spearman_abs": float(np.nanmean(absolute.spearman[:, 0, 1])),
        "spearman_signed": float(np.nanmean(signed.spearman[:, 0, 1])),
        "ssim": float(np.mean(ssim)),
        "top_iou": float(absolute.iou[:, 0, 1, 0].mean()),
    }


def _scaled(absolute: np.ndarray) -> np.ndarray:
    """An absolute map divided by its maximum (an all-zero map stays zero)."""
    peak = absolute.max()
    return absolute / peak if peak > 0 else absolute


def randomisation_steps(model: nn.Module, seed: int = 42):
    """Yield (layer name, model copy with that layer and all above it re-initialised)."""
    randomised = copy.deepcopy(model)
    layers = [(name, m) for name, m in randomised.named_modules() if hasattr(m, "reset_parameters")]
    for name, module in reversed(layers):
        torch.manual_seed(seed + 1)
        module.reset_parameters()
        yield name, randomised


def cascading_randomisation(
    model: nn.Module,
    inputs: torch.Tensor,
    explainer: Explainer,
    *,
    targets: torch.Tensor | None = None,
    top_fraction: float = 0.1,
    seed: int = 42,
) -> pd.DataFrame:
    """One row per randomisation step: the layer reset last and the four mean similarities.

    `inputs` are normalised model inputs (N, C, H, W); `targets` default to the original
    model's predictions and stay fixed.
    """
    model = model.eval()
    if targets is None:
        with torch.inference_mode():
            targets = model(inputs).argmax(1)
    original = explainer(model, inputs, targets).detach().cpu().numpy()
    rows = []
    for step, (layer, randomised) in enumerate(randomisation_steps(model, seed), start=1):
        maps = explainer(randomised.eval(), inputs, targets).detach().cpu().numpy()
        rows.append(
            {"step": step, "layer": layer, **map_similarities(original, maps, top_fraction)}
        )
    return pd.DataFrame(rows)


def _shift_absorbing_copy(model: nn.Module, shift: float) -> nn.Module:
    """A copy of `model` that computes on ``inputs + shift`` what `model` computes on inputs."""
    shifted = copy.deepcopy(model)
    name, first = next(
        (n, m) for n, m in shifted.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)
    )
    pads = isinstance(first, nn.Conv2d) and first.padding != (0, 0)
    if first.bias is None or (
        pads and (first.padding_mode != "zeros" or isinstance(first.padding, str))
    ):
        raise ValueError(
            "The 'model' parameter of input_invariance must start with a layer whose bias can "
            "absorb the shift (a convolution or linear layer with a bias; a convolution pads "
            "with zeros of a given size, if at all)."
        )
    with torch.no_grad():
        first.bias -= shift * first.weight.flatten(1).sum(1)
    if pads:
        rows, columns = first.padding
        first.padding = (0, 0)
        padded = nn.Sequential(nn.ConstantPad2d((columns, columns, rows, rows), shift), first)
        parent_name, _, child = name.rpartition(".")
        setattr(shifted.get_submodule(parent_name), child, padded)
    return shifted


def input_invariance(
    model: nn.Module,
    inputs: torch.Tensor,
    explainer: Explainer,
    *,
    shift: float = 0.5,
    targets: torch.Tensor | None = None,
    top_fraction: float = 0.1,
) -> dict:
    """Similarity of the maps before and after a constant input shift the model cannot see.

    The first convolution or linear layer's bias absorbs ``-W @ shift`` (and a zero-padding
    first convolution pads with the shift) so that the shifted model on shifted inputs
    computes exactly what the original computes; also returns the largest change in the
    logits (should be ~0) as ``max_logit_change``.
    """
    model = model.eval()
    shifted = _shift_absorbing_copy(model, shift).eval()
    with torch.inference_mode():
        logits = model(inputs)
        logits_shifted = shifted(inputs + shift)
    if targets is None:
        targets = logits.argmax(1)
    original = explainer(model, inputs, targets).detach().cpu().numpy()
    moved = explainer(shifted, inputs + shift, targets).detach().cpu().numpy()
    result = map_similarities(original, moved, top_fraction)
    result["max_logit_change"] = float((logits - logits_shifted).abs().max())
    return result


def relevance_explainer(
    spec: ModelSpec, *, method: str, parameters: dict | None = None
) -> Explainer:
    """Channel-summed relevance maps of `method` for models of `spec` on normalised inputs."""

    def explainer(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        options = spec_options(spec, dtype=inputs.dtype, device=inputs.device)
        found = explain(
            model, inputs, method=method, targets=targets, parameters=parameters, **options
        )
        return found.relevance.sum(1)

    return explainer


@dataclass(frozen=True)
class SanityResult:
    """One model and method: the randomisation curve (a row per step) and the shift check."""

    randomisation: pd.DataFrame
    invariance: dict


def sanity_checks(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    *,
    method: str,
    parameters: dict | None = None,
    targets: torch.Tensor | None = None,
    top_fraction: float = 0.1,
    shift: float = 0.5,
    seed: int = 42,
) -> SanityResult:
    """Both checks of `method` on pixel `images` (N, 3, H, W) in [0, 1] (normalised here)."""
    device = next(model.parameters()).device
    inputs = normalize(images.to(device=device, dtype=next(model.parameters()).dtype), spec)
    if targets is not None:
        targets = torch.as_tensor(targets, dtype=torch.long, device=device)
    explainer = relevance_explainer(spec, method=method, parameters=parameters)
    return SanityResult(
        randomisation=cascading_randomisation(
            model, inputs, explainer, targets=targets, top_fraction=top_fraction, seed=seed
        ),
        invariance=input_invariance(
            model, inputs, explainer, shift=shift, targets=targets, top_fraction=top_fraction
        ),
    )
