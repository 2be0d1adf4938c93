"""Pure PyTorch compute engine (no Django): models, embeddings, relevance, masking.

Public API (details in ``modelsvc/README.md``)::

    from modelsvc import ModelSpec, load_model, pick_device, compute_relevance
    spec = ModelSpec.load("spec.json")
    model = load_model(spec, pick_device())
    result = compute_relevance(model, spec, images)  # images: (N, 3, H, W) in [0, 1]

Importing modelsvc never touches CUDA; its names are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from modelsvc.version import __version__, code_version

# Public name -> defining module, imported on first use (PEP 562): `import modelsvc.artifacts`
# or `import modelsvc.spec` (the web process) does not load torch.
_LAZY = {
    "ARCHITECTURES": "modelsvc.architectures",
    "SmallCNN": "modelsvc.architectures",
    "get_architecture": "modelsvc.architectures",
    "load_arrays": "modelsvc.artifacts",
    "npz_decode": "modelsvc.artifacts",
    "npz_encode": "modelsvc.artifacts",
    "save_arrays": "modelsvc.artifacts",
    "MapComparison": "modelsvc.comparison",
    "compare_maps": "modelsvc.comparison",
    "BatchedRun": "modelsvc.device",
    "pick_device": "modelsvc.device",
    "run_batched": "modelsvc.device",
    "capture_activations": "modelsvc.embeddings",
    "extract_embeddings": "modelsvc.embeddings",
    "FinetuneResult": "modelsvc.finetuning",
    "FinetuneSettings": "modelsvc.finetuning",
    "finetune": "modelsvc.finetuning",
    "stratified_split": "modelsvc.finetuning",
    "CrossMasking": "modelsvc.generalisation",
    "Generalisation": "modelsvc.generalisation",
    "cross_model_masking": "modelsvc.generalisation",
    "summarise_generalisation": "modelsvc.generalisation",
    "ImageRun": "modelsvc.image_runs",
    "map_over_images": "modelsvc.image_runs",
    "ImageLoadError": "modelsvc.images",
    "LoadedBatch": "modelsvc.images",
    "StimulusItem": "modelsvc.images",
    "discover_images": "modelsvc.images",
    "load_batch": "modelsvc.images",
    "load_image": "modelsvc.images",
    "normalize": "modelsvc.images",
    "read_metadata": "modelsvc.images",
    "class_indices": "modelsvc.labels",
    "DEFAULT_FRACTIONS": "modelsvc.masking",
    "MaskingResult": "modelsvc.masking",
    "MaskingSettings": "modelsvc.masking",
    "dataset_mean": "modelsvc.masking",
    "evaluate_masking": "modelsvc.masking",
    "image_channel_means": "modelsvc.masking",
    "mean_fill_value": "modelsvc.masking",
    "top_fraction_masks": "modelsvc.masking",
    "Explanation": "modelsvc.relevance",
    "RelevanceResult": "modelsvc.relevance",
    "compute_relevance": "modelsvc.relevance",
    "explain": "modelsvc.relevance",
    "DissimilarityMatrix": "modelsvc.similarity",
    "dissimilarity_matrix": "modelsvc.similarity",
    "ModelSpec": "modelsvc.spec",
    "WeightsMismatchError": "modelsvc.weights",
    "load_model": "modelsvc.weights",
    "save_checkpoint": "modelsvc.weights",
}

__all__ = ["__version__", "code_version", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modelsvc' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
