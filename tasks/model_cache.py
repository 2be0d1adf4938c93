"""Face models for the workers: specs from the database, loaded once per worker process."""

from collections import OrderedDict
from pathlib import Path

import torch
from django.conf import settings

from modelsvc import ModelSpec, load_model, pick_device
from studyapp.models import FaceModel
from studyapp.storage import local_path

CACHE_SIZE = 4
_cache: "OrderedDict[tuple[str, str], torch.nn.Module]" = OrderedDict()


def model_spec(face_model: FaceModel) -> ModelSpec:
    """The stored spec with the weights file resolved to a local path."""
    spec = ModelSpec.from_dict(face_model.spec)
    if face_model.weights:
        return spec.replace(weights_path=local_path(face_model.weights.name))
    if face_model.weights_path:
        return spec.replace(weights_path=face_model.weights_path)
    return spec


def cached_model(spec: ModelSpec, device: torch.device | None = None) -> torch.nn.Module:
    """The model in eval mode, loaded at most once per process for each spec and device."""
    device = device or pick_device()
    key = (spec.cache_key(), str(device))
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    model = load_model(spec, device)
    _cache[key] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model


def check_weights_path(path: str) -> Path:
    """A server-side weights path must lie inside one of ``FACESIM_WEIGHTS_DIRS``."""
    resolved = Path(path).resolve()
    allowed = [Path(d).resolve() for d in settings.FACESIM_WEIGHTS_DIRS]
    if not any(resolved.is_relative_to(d) for d in allowed):
        raise ValueError(
            f"Weights path {path!r} is outside the allowed folders {[str(d) for d in allowed]} "
            "(setting FACESIM_WEIGHTS_DIRS)."
        )
    if not resolved.is_file():
        raise ValueError(f"Weights file {path!r} does not exist.")
    return resolved


def check_spec_loads(spec: ModelSpec) -> None:
    """Load the model on the CPU once: raises with missing/unexpected keys on a mismatch."""
    load_model(spec, "cpu")
