"""Activations of named layers through forward hooks (added and removed by a context
manager), pooled to one vector per image.

Pooling: ``"gap"`` averages conv maps over space (vectors pass unchanged), ``"flatten"``
keeps every unit. Hooks copy what they keep, so in-place ReLUs after a hooked layer do not
change stored activations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from modelsvc.architectures import get_module
from modelsvc.images import normalize
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice, check_unique_strings

POOLINGS = ("gap", "flatten")


def pool(activation: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per image from an activation (N, ...): a new tensor, never a view."""
    check_choice("pool", "pooling", pooling, POOLINGS)
    if pooling == "gap" and activation.ndim > 2:
        return activation.mean(dim=tuple(range(2, activation.ndim)))
    return activation.reshape(len(activation), -1).clone()


@contextmanager
def capture_activations(
    model: nn.Module, layers: Sequence[str], pooling: str = "gap"
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the block, every forward pass appends each named layer's pooled output to
    ``captured[layer]``; the hooks are removed on exit, even after an error."""
    layers = check_unique_strings("capture_activations", "layers", layers)
    check_choice("capture_activations", "pooling", pooling, POOLINGS)
    modules = {name: get_module(model, name) for name in layers}
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            captured[name].append(pool(output.detach(), pooling))

        return hook

    handles = [module.register_forward_hook(hook_for(n)) for n, module in modules.items()]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def extract_embeddings(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    pooling: str = "gap",
) -> dict[str, np.ndarray]:
    """Pooled activations (N, D) float32 per layer for pixel `images` (N, 3, H, W) in [0, 1];
    `layers` default to the spec's layers of interest."""
    layers = list(layers if layers is not None else spec.layers)
    if not layers:
        raise ValueError(
            "The 'layers' parameter of extract_embeddings must name at least one layer "
            "(the spec lists none)."
        )
    parameter = next(model.parameters())
    inputs = normalize(images.to(device=parameter.device, dtype=parameter.dtype), spec)
    with capture_activations(model, layers, pooling) as captured, torch.inference_mode():
        model(inputs)
    return {name: captured[name][0].float().cpu().numpy() for name in layers}
