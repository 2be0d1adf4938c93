"""Cross-model generalisation of relevance: masks from model A evaluated on model B.

``G[A, B, k]`` is the accuracy of model B (on its own task's targets) on images masked by
model A's relevance at fraction k; the diagonal is self-masking. Baseline sources
(``"random"``: seeded random masks; ``"center"``: a model-free centre prior) are extra
rows. The area under each k-curve is the trapezoid integral over the fractions divided by
their range, i.e. the mean accuracy along the curve. Asymmetry is ``G[A, B] - G[B, A]``.

Models with different input sizes (e.g. dlib's 150 px network beside 64 px CNNs) share one
mask space, the images' size (the masking job loads them at the largest input size): each
model's relevance maps are resized to it (bilinear), masks and fills are made there, and each
model sees the masked images resized to its own input size (bilinear, antialiased), as it
would see any photo.

`cross_model_masking` works on one batch and returns per-image results;
`summarise_generalisation` turns the concatenated per-image arrays into matrices, so a
stimulus set can be processed in any batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modelsvc.masking import (
    MaskingSettings,
    center_maps,
    check_batch,
    masked_versions,
    predict_targets,
    random_maps,
    score_masked,
)
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice, check_unique_strings
from modelsvc.version import code_version

BASELINES = ("random", "center")


@dataclass(frozen=True)
class CrossMasking:
    """Per-image results: sources S (models then baselines) x evaluating models M x N x K."""

    sources: tuple[str, ...]
    models: tuple[str, ...]
    correct: np.ndarray  # (S, M, N, K) bool
    target_logit: np.ndarray  # (S, M, N, K) float32
    unmasked_correct: np.ndarray  # (M, N) bool


@dataclass(frozen=True)
class Generalisation:
    """Matrices over sources S, models M and fractions K."""

    sources: tuple[str, ...]
    models: tuple[str, ...]
    fractions: tuple[float, ...]
    accuracy: np.ndarray  # (S, M, K)
    mean_target_logit: np.ndarray  # (S, M, K)
    auc: np.ndarray  # (S, M)
    asymmetry: np.ndarray  # (M, M, K): G[A, B] - G[B, A]
    asymmetry_auc: np.ndarray  # (M, M)
    unmasked_accuracy: np.ndarray  # (M,)

    def record(self) -> dict:
        return {
            "sources": list(self.sources),
            "models": list(self.models),
            "fractions": list(self.fractions),
            "auc": "trapezoid over fractions / (max - min fraction)",
            "code_version": code_version("generalisation"),
        }


def cross_model_masking(
    models: Mapping[str, tuple[nn.Module, ModelSpec]],
    images: torch.Tensor,
    maps: Mapping[str, np.ndarray | torch.Tensor],
    targets: Mapping[str, np.ndarray | torch.Tensor],
    keys: Sequence[str],
    settings: MaskingSettings,
    baselines: Sequence[str] = ("random",),
) -> CrossMasking:
    """Evaluate every model on images masked by every model's maps and each baseline.

    `models`: name -> (model, spec). `images` (N, 3, H, W) define the mask space; a model
    whose input size is not (H, W) sees the images resized to it (`at_size`).
    `maps` and `targets`: per model name, for this batch; maps at the image size or at the
    model's input size (then resized to the image size).
    """
    names = check_unique_strings("cross_model_masking", "models", list(models))
    for baseline in baselines:
        check_choice("cross_model_masking", "baselines", baseline, BASELINES)
    size = tuple(images.shape[2:])
    for name in names:
        if name not in maps or name not in targets:
            raise ValueError(
                f"The 'maps' and 'targets' parameters of cross_model_masking need an entry for "
                f"model {name!r}; got maps for {sorted(maps)}, targets for {sorted(targets)}."
            )
    source_maps = {
        name: maps_at_size(torch.as_tensor(np.asarray(maps[name])), size, models[name][1])
        for name in names
    }
    if "random" in baselines:
        source_maps["random"] = random_maps(keys, size, settings.seed)
    if "center" in baselines:
        source_maps["center"] = center_maps(len(keys), size)
    # Each source's masked images are made once and every model sees them; each model's
    # unmasked images once (not once per source).
    target_of = {
        name: check_batch(images, source_maps[name], targets[name], keys)[2] for name in names
    }
    unmasked = [
        predict_targets(model, spec, at_size(images, spec.input_size), target_of[name])[0]
        for name, (model, spec) in models.items()
    ]
    correct, logits = [], []
    for source_map in source_maps.values():
        source_map = check_batch(images, source_map, target_of[names[0]], keys)[1]
        versions = masked_versions(images, source_map, keys, settings)
        per_model = [
            score_masked(
                model, spec, [at_size(v, spec.input_size) for v in versions], target_of[name]
            )
            for name, (model, spec) in models.items()
        ]
        correct.append(np.stack([c for c, _ in per_model]))
        logits.append(np.stack([logit for _, logit in per_model]))
    return CrossMasking(
        sources=tuple(source_maps),
        models=names,
        correct=np.stack(correct),
        target_logit=np.stack(logits),
        unmasked_correct=np.stack(unmasked),
    )


def at_size(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`images` (N, 3, H, W) resized to `size` (bilinear, antialiased); as they are if equal."""
    if tuple(images.shape[2:]) == tuple(size):
        return images
    resized = F.interpolate(
        images.float(), size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    )
    return resized.clamp_(0.0, 1.0).to(images.dtype)


def maps_at_size(maps: torch.Tensor, size: tuple[int, int], spec: ModelSpec) -> torch.Tensor:
    """Relevance maps (N, h, w) of a model at the mask space's `size` (bilinear).

    They must be at `size` already or at the model's input size; anything else is an error.
    """
    got = tuple(maps.shape[1:])
    if got == tuple(size):
        return maps
    if got != tuple(spec.input_size):
        raise ValueError(
            f"The 'maps' parameter of cross_model_masking must be at the images' size {size} "
            f"or at the model's input size {spec.input_size}; got maps of size {got}."
        )
    resized = F.interpolate(
        maps[:, None].float(), size=tuple(size), mode="bilinear", align_corners=False
    )
    return resized[:, 0]


def summarise_generalisation(cross: CrossMasking, fractions: Sequence[float]) -> Generalisation:
    """Accuracy matrices, areas under the k-curves and asymmetries from per-image results."""
    fractions = tuple(float(f) for f in fractions)
    if cross.correct.shape[-1] != len(fractions):
        raise ValueError(
            f"The 'fractions' parameter of summarise_generalisation must have "
            f"{cross.correct.shape[-1]} entries (one per masking fraction); got {len(fractions)}."
        )
    accuracy = cross.correct.mean(axis=2)
    auc = area_under_curve(accuracy, fractions)
    n_models = len(cross.models)
    model_rows = accuracy[:n_models]  # sources start with the models, in the same order
    asymmetry = model_rows - model_rows.transpose(1, 0, 2)
    return Generalisation(
        sources=cross.sources,
        models=cross.models,
        fractions=fractions,
        accuracy=accuracy,
        mean_target_logit=cross.target_logit.mean(axis=2),
        auc=auc,
        asymmetry=asymmetry,
        asymmetry_auc=area_under_curve(asymmetry, fractions),
        unmasked_accuracy=cross.unmasked_correct.mean(axis=1),
    )


def area_under_curve(values: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """Trapezoid integral over the last axis divided by the fraction range (a mean level);
    with a single fraction, the value itself."""
    x = np.asarray(fractions, dtype=np.float64)
    if len(x) == 1:
        return values[..., 0].astype(np.float64)
    return np.trapezoid(values, x, axis=-1) / (x[-1] - x[0])


def concatenate_cross_masking(parts: Sequence[CrossMasking]) -> CrossMasking:
    """Join per-batch results along the image axis (batches in stimulus order)."""
    first = parts[0]
    if any((p.sources, p.models) != (first.sources, first.models) for p in parts):
        raise ValueError("All batches must have the same sources and models.")
    return CrossMasking(
        sources=first.sources,
        models=first.models,
        correct=np.concatenate([p.correct for p in parts], axis=2),
        target_logit=np.concatenate([p.target_logit for p in parts], axis=2),
        unmasked_correct=np.concatenate([p.unmasked_correct for p in parts], axis=1),
    )
