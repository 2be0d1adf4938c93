"""Face models for the workers: specs from the database, loaded once per worker process."""

from collections import OrderedDict

import torch

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
