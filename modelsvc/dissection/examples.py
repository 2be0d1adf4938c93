"""Thresholded activation maps of chosen units on chosen images: the examples a dissection
report draws (each unit's top-activating images with its firing region outlined).

The maps are those `unit_counts` counts: upsampled bilinearly to the mask size and compared
with the unit's threshold in float32 (`float32_below`), so an outline covers exactly the
pixels counted for that image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modelsvc.dissection.activations import _layer_outputs, float32_below


def fired_masks(
    model: nn.Module,
    *,
    layer: str,
    images: torch.Tensor,
    units: np.ndarray,
    thresholds: np.ndarray,
    mask_size: tuple[int, int],
) -> np.ndarray:
    """Boolean (len(units), H, W): unit ``units[k]`` thresholded on image ``images[k]``.

    `images` (K, 3, h, w) are model-ready inputs (one per unit); `thresholds` (C,) are the
    layer's unit thresholds (``LayerCounts.threshold``)."""
    units = np.asarray(units, dtype=np.int64)
    if len(units) != len(images):
        raise ValueError(
            "The 'units' parameter of fired_masks must give one unit per image "
            f"({len(images)}); got {len(units)}."
        )
    ((_, output),) = list(_layer_outputs(model, [layer], lambda: [images]))
    index = torch.from_numpy(units).to(output.device)
    chosen = output[torch.arange(len(units), device=output.device), index][:, None].float()
    upsampled = F.interpolate(chosen, size=mask_size, mode="bilinear", align_corners=False)[:, 0]
    limit = torch.from_numpy(float32_below(np.asarray(thresholds)[units])).to(output.device)
    return (upsampled > limit[:, None, None]).cpu().numpy()
