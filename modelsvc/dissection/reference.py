"""Naive dissection, the reference the streamed path is tested and benchmarked against.

Every activation of every image is kept in memory, the threshold is ``np.quantile`` per unit
and counts come from a Python loop over units and parts. The maps of a layer are upsampled in
one call, as in the streamed path: torch's bilinear kernel vectorises over channels, so a call
per channel differs in the last bit and could flip pixels lying exactly at a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modelsvc.dissection.activations import (
    DEFAULT_TOP_FRACTION,
    Batches,
    LayerCounts,
    _layer_outputs,
)
from modelsvc.dissection.dictionary import FaceDictionary


def naive_dissect_units(
    model: nn.Module,
    *,
    layers: Sequence[str],
    batches: Batches,
    dictionary: FaceDictionary,
    top_fraction: float = DEFAULT_TOP_FRACTION,
) -> dict[str, LayerCounts]:
    """`dissect_units` with all activations in memory and a loop per unit."""
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for name, output in _layer_outputs(model, layers, batches):
        outputs[name].append(output.float().cpu())
    masks = dictionary.part_masks(slice(None))
    size = dictionary.mask_size
    result = {}
    for name in layers:
        activations = torch.cat(outputs[name])
        n_images, n_units = activations.shape[:2]
        thresholds = np.empty(n_units)
        intersection = np.empty((n_images, n_units, masks.shape[1]), dtype=np.int32)
        activated = np.empty((n_images, n_units), dtype=np.int64)
        upsampled = F.interpolate(activations, size=size, mode="bilinear", align_corners=False)
        for unit in range(n_units):
            values = activations[:, unit].numpy().astype(np.float64)
            thresholds[unit] = np.quantile(values, 1.0 - top_fraction)
            fired = upsampled[:, unit].numpy().astype(np.float64) > thresholds[unit]
            activated[:, unit] = fired.sum(axis=(1, 2))
            for part in range(masks.shape[1]):
                intersection[:, unit, part] = (fired & masks[:, part]).sum(axis=(1, 2))
        result[name] = LayerCounts(
            thresholds,
            intersection,
            activated,
            masks.sum(axis=(2, 3)).astype(np.int64),
            activations.mean(dim=(2, 3)).numpy(),
        )
    return result
