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
change either.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from skimage.metrics import structural_similarity
from torch import nn

from modelsvc.comparison import compare_maps
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

    The first convolution or linear layer's bias absorbs ``-W @ shift`` so that the shifted
    model on shifted inputs computes exactly what the original computes; also returns the
    largest change in the logits (should be ~0) as ``max_logit_change``.
    """
    model = model.eval()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    if first.bias is None or (isinstance(first, nn.Conv2d) and first.padding != (0, 0)):
        raise ValueError(
            "The 'model' parameter of input_invariance must start with a layer whose bias can "
            "absorb the shift (a convolution without padding or a linear layer, with a bias)."
        )
    shifted = copy.deepcopy(model)
    first_shifted = next(m for m in shifted.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    with torch.no_grad():
        summed = first_shifted.weight.flatten(1).sum(1)
        first_shifted.bias -= shift * summed
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
