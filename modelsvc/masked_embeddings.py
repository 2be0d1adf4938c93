"""Embeddings of images masked by relevance: the model side of "decision weighting vs humans".

For each fraction k, the top-k % most relevant pixels of a model's own map are kept (or
removed) and the rest filled as in `modelsvc.masking`; a random-map condition with the same
k is the baseline. The embeddings of one layer then give one dissimilarity matrix per
(condition, k), which `analysis.relevance.decision_weighting_curves` compares with humans.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from modelsvc.embeddings import extract_embeddings
from modelsvc.masking import (
    MaskingSettings,
    fill_images,
    mask_images,
    random_maps,
    top_fraction_masks,
)
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice

CONDITIONS = ("relevance", "random")


def condition_key(condition: str, fraction: float) -> str:
    """The name of one (condition, k) output, e.g. ``"relevance|0.1"``."""
    return f"{condition}|{fraction:g}"


def masked_embeddings(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    maps: torch.Tensor | np.ndarray,
    keys: Sequence[str],
    settings: MaskingSettings,
    layer: str,
    *,
    pooling: str = "gap",
    conditions: Sequence[str] = CONDITIONS,
) -> dict[str, np.ndarray]:
    """``condition_key(condition, k)`` -> (N, D) embeddings of `layer` on the masked images.

    `images` (N, 3, H, W) in [0, 1] and `maps` (N, H, W) at the same size; `keys` name the
    images (they seed the random maps and noise fills, so batches do not matter).
    """
    for condition in conditions:
        check_choice("masked_embeddings", "conditions", condition, CONDITIONS)
    if len(keys) != len(images):
        raise ValueError(
            f"The 'keys' parameter of masked_embeddings must name each of the {len(images)} "
            f"images; got {len(keys)} keys."
        )
    size = tuple(images.shape[2:])
    sources = {"relevance": torch.as_tensor(np.asarray(maps))}
    if "random" in conditions:
        sources["random"] = random_maps(keys, size, settings.seed)
    fill = fill_images(images, keys, settings)
    out: dict[str, np.ndarray] = {}
    for condition in conditions:
        masks = top_fraction_masks(sources[condition], settings.fractions)
        for fraction, mask in zip(settings.fractions, masks, strict=True):
            masked = mask_images(images, mask.to(images.device), fill, settings.mode)
            features = extract_embeddings(model, spec, masked, [layer], pooling)[layer]
            out[condition_key(condition, fraction)] = features
    return out
