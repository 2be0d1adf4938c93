"""Dissect an image set on disk: ``images/``, ``masks/``, ``parts.json``, ``metadata.csv``.

Writes one ``dissection.npz`` (per-image counts of every layer, and of a random-weights copy
of the model if asked) with a JSON record holding the dictionary's concepts, so
``analysis.dissection.read_dissection`` can pair units without the images.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modelsvc.artifacts import save_arrays
from modelsvc.dissection.activations import (
    DEFAULT_TOP_FRACTION,
    LayerCounts,
    dissect_units,
    randomized_copy,
)
from modelsvc.dissection.dictionary import DEFAULT_MIN_POSITIVES, dictionary_from_directory
from modelsvc.images import ImageLoadError, load_image, normalize
from modelsvc.spec import ModelSpec
from modelsvc.version import code_version

COUNT_FIELDS = ("threshold", "intersection", "activated", "part_area", "response")


def dissect_folder(
    root: str | Path,
    *,
    model: nn.Module,
    spec: ModelSpec,
    layers: Sequence[str],
    out: str | Path,
    local_columns: Mapping[str, str] | None = None,
    global_columns: Sequence[str] = (),
    top_fraction: float = DEFAULT_TOP_FRACTION,
    min_positives: int = DEFAULT_MIN_POSITIVES,
    baseline_seed: int | None = 0,
    batch_size: int = 16,
) -> Path:
    """Dissect `layers` of `model` on the set in `root`; returns the ``.npz`` path.

    Arrays are ``<model>/<layer>/<field>`` for model ``model`` and (unless `baseline_seed`
    is None) ``random`` (a `randomized_copy` of the model). An unreadable image is an error:
    every image must line up with its mask."""
    root = Path(root)
    dictionary = dictionary_from_directory(
        root,
        local_columns=local_columns,
        global_columns=global_columns,
        min_positives=min_positives,
    )
    device = next(model.parameters()).device
    paths = [root / "images" / name for name in dictionary.names]

    def batches() -> Iterator[torch.Tensor]:
        for start in range(0, len(paths), batch_size):
            try:
                images = [load_image(p, spec.input_size) for p in paths[start : start + batch_size]]
            except ImageLoadError as error:
                raise ValueError(f"Cannot dissect {str(root)!r}: {error}") from error
            yield normalize(torch.stack(images).to(device), spec)

    models = {"model": model}
    if baseline_seed is not None:
        models["random"] = randomized_copy(model, seed=baseline_seed)
    arrays: dict[str, np.ndarray] = {}
    for name, network in models.items():
        counts = dissect_units(
            network,
            layers=layers,
            batches=batches,
            dictionary=dictionary,
            top_fraction=top_fraction,
        )
        arrays |= _flatten(name, counts)
    for concept, (_, positives) in dictionary.local.items():
        arrays[f"local/{concept}"] = positives
    for concept, positives in dictionary.global_.items():
        arrays[f"global/{concept}"] = positives
    record = {
        "method": "dissection",
        "parameters": {
            "layers": list(layers),
            "top_fraction": top_fraction,
            "min_positives": min_positives,
            "baseline_seed": baseline_seed,
            "local_columns": dict(local_columns or {}),
            "global_columns": list(global_columns),
        },
        "code_version": code_version("dissection"),
        "model": spec.cache_key(),
        "model_name": spec.name,
        "stimulus_ids": list(dictionary.names),
        "parts": list(dictionary.parts),
        "local_parts": {concept: part for concept, (part, _) in dictionary.local.items()},
        "mask_size": list(dictionary.mask_size),
    }
    path = Path(out) / "dissection.npz"
    save_arrays(path, arrays, record)
    return path


def _flatten(name: str, counts: dict[str, LayerCounts]) -> dict[str, np.ndarray]:
    return {
        f"{name}/{layer}/{field}": getattr(layer_counts, field)
        for layer, layer_counts in counts.items()
        for field in COUNT_FIELDS
    }
