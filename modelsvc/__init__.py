"""Pure PyTorch compute engine (no Django): models, embeddings, relevance, masking.

Public API (details in ``modelsvc/README.md``)::

    from modelsvc import ModelSpec, load_model, pick_device, compute_relevance
    spec = ModelSpec.load("spec.json")
    model = load_model(spec, pick_device())
    result = compute_relevance(model, spec, images)  # images: (N, 3, H, W) in [0, 1]

Importing modelsvc never touches CUDA.
"""

from modelsvc.architectures import ARCHITECTURES, SmallCNN, get_architecture
from modelsvc.artifacts import load_arrays, npz_decode, npz_encode, save_arrays
from modelsvc.comparison import MapComparison, compare_maps
from modelsvc.device import BatchedRun, pick_device, run_batched
from modelsvc.embeddings import capture_activations, extract_embeddings
from modelsvc.finetune import FinetuneResult, FinetuneSettings, finetune, stratified_split
from modelsvc.generalisation import (
    CrossMasking,
    Generalisation,
    cross_model_masking,
    summarise_generalisation,
)
from modelsvc.image_runs import ImageRun, map_over_images
from modelsvc.images import (
    ImageLoadError,
    LoadedBatch,
    StimulusItem,
    discover_images,
    load_batch,
    load_image,
    normalize,
    read_metadata,
)
from modelsvc.labels import class_indices
from modelsvc.masking import (
    DEFAULT_FRACTIONS,
    MaskingResult,
    MaskingSettings,
    dataset_mean,
    evaluate_masking,
    image_channel_means,
    mean_fill_value,
    top_fraction_masks,
)
from modelsvc.relevance import Explanation, RelevanceResult, compute_relevance, explain
from modelsvc.similarity import DissimilarityMatrix, dissimilarity_matrix
from modelsvc.spec import ModelSpec
from modelsvc.version import __version__, code_version
from modelsvc.weights import WeightsMismatchError, load_model, save_checkpoint

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_FRACTIONS",
    "BatchedRun",
    "CrossMasking",
    "DissimilarityMatrix",
    "Explanation",
    "FinetuneResult",
    "FinetuneSettings",
    "Generalisation",
    "ImageLoadError",
    "ImageRun",
    "LoadedBatch",
    "MapComparison",
    "MaskingResult",
    "MaskingSettings",
    "ModelSpec",
    "RelevanceResult",
    "SmallCNN",
    "StimulusItem",
    "WeightsMismatchError",
    "__version__",
    "capture_activations",
    "class_indices",
    "code_version",
    "compare_maps",
    "compute_relevance",
    "cross_model_masking",
    "dataset_mean",
    "discover_images",
    "dissimilarity_matrix",
    "evaluate_masking",
    "explain",
    "extract_embeddings",
    "finetune",
    "get_architecture",
    "image_channel_means",
    "load_arrays",
    "load_batch",
    "load_image",
    "load_model",
    "map_over_images",
    "mean_fill_value",
    "normalize",
    "npz_decode",
    "npz_encode",
    "pick_device",
    "read_metadata",
    "run_batched",
    "save_arrays",
    "save_checkpoint",
    "stratified_split",
    "summarise_generalisation",
    "top_fraction_masks",
]
