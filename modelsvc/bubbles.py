"""Models take the Bubbles test: the same trials people saw, answered by the model.

A trial shows images through a visibility mask (1 = the image, 0 = a uniform fill, e.g. the
mid-grey background of the runner): ``shown = v·image + (1 − v)·fill``.  Judging a label, the
model's answer is its decision (argmax of the output layer), scored against the target
(`bubbles_decisions`).  Matching a reference, it picks the candidate seen through the mask
whose embedding (a layer's pooled activations) correlates more with the reference's, seen in
full (`bubbles_matches`).  The masks come from the trials' seeds (`analysis.bubbles`); this
module only shows and scores, so a model's classification image is computed exactly like a
participant's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from modelsvc.embeddings import extract_embeddings
from modelsvc.masking import predict_targets
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_int


def show_through(
    images: torch.Tensor, visibility: torch.Tensor, fill: Sequence[float]
) -> torch.Tensor:
    """Images (T, 3, H, W) in [0, 1] seen through visibility (T, H, W) on a uniform `fill` RGB."""
    if visibility.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(
            "The 'visibility' parameter of show_through must have shape "
            f"{(images.shape[0], *images.shape[2:])}; got {tuple(visibility.shape)}."
        )
    colour = torch.tensor(fill, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    weight = visibility.to(images.dtype).unsqueeze(1)
    return weight * images + (1 - weight) * colour


def visibility_at(visibility: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Masks (T, H, W) drawn at the images' own size, resized to a model's input `size`
    (height, width) as the images are (bilinear, antialiased when shrinking)."""
    masks = torch.as_tensor(np.asarray(visibility, dtype=np.float32)).unsqueeze(1)
    if tuple(masks.shape[2:]) == tuple(size):
        return masks[:, 0].numpy()
    resized = nn.functional.interpolate(
        masks, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    )
    return resized[:, 0].clamp(0, 1).numpy()


def bubbles_decisions(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    image_index: np.ndarray,
    visibility: np.ndarray,
    targets: np.ndarray,
    *,
    fill: Sequence[float] = (0.5, 0.5, 0.5),
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the model gets each trial right, and its target logit.

    `images` (N, 3, H, W) in [0, 1]; per trial t: `image_index[t]` picks the image,
    `visibility[t]` (H, W) its mask, `targets[t]` the right class.
    """
    check_int("bubbles_decisions", "batch_size", batch_size, minimum=1)
    image_index = np.asarray(image_index, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    if not (len(image_index) == len(visibility) == len(targets)):
        raise ValueError(
            "The 'image_index', 'visibility' and 'targets' parameters of bubbles_decisions "
            f"must have one row per trial; got {len(image_index)}, {len(visibility)}, "
            f"{len(targets)}."
        )
    if len(image_index) and (image_index.min() < 0 or image_index.max() >= len(images)):
        raise ValueError(
            f"The 'image_index' parameter of bubbles_decisions must index the {len(images)} "
            f"images; got values from {image_index.min()} to {image_index.max()}."
        )
    correct, logits = [], []
    for start in range(0, len(targets), batch_size):
        part = slice(start, start + batch_size)
        shown = show_through(
            images[torch.from_numpy(image_index[part])],
            torch.as_tensor(np.asarray(visibility[part])),
            fill,
        )
        scored = predict_targets(model, spec, shown, torch.from_numpy(targets[part]))
        correct.append(scored[0])
        logits.append(scored[1])
    return np.concatenate(correct), np.concatenate(logits)


def bubbles_matches(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    trials: np.ndarray,
    visibility: np.ndarray,
    *,
    layer: str,
    fill: Sequence[float] = (0.5, 0.5, 0.5),
    batch_size: int = 64,
) -> np.ndarray:
    """Whether the model matches each trial's reference to its target.

    `images` (N, 3, H, W) in [0, 1]; `trials` (T, 3) indexes them as (reference, target, foil);
    `visibility[t]` (H, W) is the mask over both candidates.  Correct when the target's
    embedding at `layer` (global average pooled) correlates more with the reference's than the
    foil's does (a tie is an error).
    """
    check_int("bubbles_matches", "batch_size", batch_size, minimum=1)
    trials = np.asarray(trials, dtype=np.int64)
    if trials.ndim != 2 or trials.shape[1] != 3 or len(trials) != len(visibility):
        raise ValueError(
            "The 'trials' parameter of bubbles_matches must have one (reference, target, foil) "
            f"row per mask ({len(visibility)}); got shape {trials.shape}."
        )
    if trials.size and (trials.min() < 0 or trials.max() >= len(images)):
        raise ValueError(
            f"The 'trials' parameter of bubbles_matches must index the {len(images)} images; "
            f"got values from {trials.min()} to {trials.max()}."
        )
    references = _embed(model, spec, images, layer, batch_size)
    correct = []
    for start in range(0, len(trials), batch_size):
        part = trials[start : start + batch_size]
        masks = torch.as_tensor(np.asarray(visibility[start : start + batch_size]))
        shown = show_through(
            images[torch.from_numpy(part[:, 1:].reshape(-1))], masks.repeat_interleave(2, 0), fill
        )
        candidates = _embed(model, spec, shown, layer, 2 * batch_size).reshape(len(part), 2, -1)
        similarity = np.einsum("td,tcd->tc", references[part[:, 0]], candidates)
        correct.append(similarity[:, 0] > similarity[:, 1])
    return np.concatenate(correct) if correct else np.zeros(0, dtype=bool)


def _embed(
    model: nn.Module, spec: ModelSpec, images: torch.Tensor, layer: str, batch_size: int
) -> np.ndarray:
    """Centred unit-length embeddings (N, D): their dot products are Pearson correlations."""
    rows = np.concatenate(
        [
            extract_embeddings(model, spec, images[start : start + batch_size], [layer])[layer]
            for start in range(0, len(images), batch_size)
        ]
    ).astype(np.float64)
    rows -= rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)
