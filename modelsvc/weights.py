"""Building models from a `ModelSpec` and loading weights from local files only.

Supported files (``spec.weights_format``):

- ``torchvision``: a plain state dict with torchvision's key names (e.g. ImageNet VGG-16).
- ``checkpoint``: a file written by `save_checkpoint` (spec + state dict), or a common
  training checkpoint: a dict holding the state dict under ``state_dict`` or ``model``;
  a ``module.`` prefix (DataParallel) is stripped.
- ``vgg_face_dag``: VGG-Face in the common converted layout (``conv1_1.weight`` ...
  ``conv5_3.bias``, ``fc6``, ``fc7``, ``fc8`` with 2622 classes) mapped onto torchvision's
  VGG-16; ``fc6``/``fc7``/``fc8`` may be stored as linear (2-D) or as convolution (4-D)
  kernels.
- ``dlib_dat``: dlib's ``dlib_face_recognition_resnet_model_v1.dat`` for ``dlib_resnet29``,
  read by `modelsvc.dlib_format` (no pickle, no compiler) and cached as a state dict.

Files are read with ``torch.load(weights_only=True)``: no pickled code runs, and nothing is
ever downloaded. A file that does not fit the model raises `WeightsMismatchError` listing
every missing key, unexpected key and shape conflict at once.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelsvc.architectures import get_architecture
from modelsvc.dlib_resnet import load_dlib_resnet
from modelsvc.spec import ModelSpec

CHECKPOINT_FORMAT = "modelsvc-checkpoint"
CHECKPOINT_VERSION = 1
#: torch.save writes a zip archive, or (before PyTorch 1.6) a pickle stream (protocol 2+).
TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")

_VGG16_CONVS = [
    *("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3"),
    *("conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"),
]
_VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
#: vgg_face_dag layer name -> torchvision VGG-16 module name.
VGG_FACE_DAG_LAYERS: dict[str, str] = {
    **{
        name: f"features.{index}"
        for name, index in zip(_VGG16_CONVS, _VGG16_CONV_INDICES, strict=True)
    },
    "fc6": "classifier.0",
    "fc7": "classifier.3",
    "fc8": "classifier.6",
}
#: Normalisation of the converted VGG-Face: mean RGB in [0, 1] units, std = 1/255 (the
#: network expects mean-subtracted 0..255 pixel values).
VGG_FACE_MEAN = (129.186279296875 / 255, 104.76238250732422 / 255, 93.59396362304688 / 255)
VGG_FACE_STD = (1 / 255, 1 / 255, 1 / 255)


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model: lists missing/unexpected keys and shape conflicts."""

    def __init__(
        self,
        source: str,
        missing: list[str],
        unexpected: list[str],
        shape_conflicts: dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        self.source = source
        self.missing = missing
        self.unexpected = unexpected
        self.shape_conflicts = shape_conflicts
        conflicts = [
            f"{key}: file {list(got)} vs model {list(want)}"
            for key, (got, want) in shape_conflicts.items()
        ]
        super().__init__(
            f"Weights in {source} do not fit the model. Missing keys: {missing}; "
            f"unexpected keys: {unexpected}; shape conflicts: {conflicts}."
        )


def build_model(spec: ModelSpec) -> nn.Module:
    """An untrained network for `spec`, initialised from ``spec.seed`` (global RNG untouched)."""
    architecture = get_architecture(spec.architecture)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        return architecture.build(spec.num_classes)


def load_model(spec: ModelSpec, device: str | torch.device = "cpu") -> nn.Module:
    """The model described by `spec`, with its weights, on `device`, in eval mode.

    With no ``weights_path`` the weights are the seeded random initialisation.
    """
    model = build_model(spec)
    if spec.weights_path is not None:
        path = Path(spec.weights_path)
        if spec.weights_sha256 is not None:
            digest = file_sha256(path)
            if digest != spec.weights_sha256:
                raise ValueError(
                    f"The weights file {str(path)!r} has sha256 {digest}, but the spec expects "
                    f"{spec.weights_sha256}."
                )
        state = load_dlib_resnet(path) if spec.weights_format == "dlib_dat" else read_weights(path)
        if spec.weights_format == "vgg_face_dag":
            state = map_vgg_face_dag(state, model, source=str(path))
        elif spec.weights_format == "checkpoint":
            state = _checkpoint_state_dict(state, spec, source=str(path))
        check_state_dict(model, state, source=str(path))
        model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def read_weights(path: str | Path, *, mmap: bool = False) -> Mapping[str, Any]:
    """Load a weights file with ``weights_only=True``; errors say in plain words what is wrong.

    The messages name the file only by its base name (never a server folder); the loader's
    own message, which may suggest turning safe loading off, is only chained.
    `mmap` maps a zip-format file's tensors instead of reading them (for `inspect_weights`).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"The weights file {str(path)!r} does not exist.")
    not_weights = f"{path.name}: this is not a PyTorch weights file."
    with open(path, "rb") as handle:
        if not handle.read(4).startswith(TORCH_FILE_STARTS):
            raise ValueError(not_weights)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise ValueError(not_weights) from exc
        raise ValueError(
            f"{path.name} holds pickled Python objects (such as a whole model), not just "
            "tensors: whole pickled modules are refused. Save model.state_dict() with "
            "torch.save and upload that file."
        ) from exc
    except Exception as exc:  # torch raises many types for files that are no torch.save output
        raise ValueError(not_weights) from exc
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{path.name} holds a {type(data).__name__}, not a dictionary of weights "
            "(a state dict or a checkpoint)."
        )
    return data


def check_state_dict(model: nn.Module, state: Mapping[str, Any], *, source: str) -> None:
    """Raise `WeightsMismatchError` unless `state` has exactly the model's keys and shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    conflicts = {
        key: (tuple(state[key].shape), tuple(expected[key].shape))
        for key in sorted(set(state) & set(expected))
        if tuple(state[key].shape) != tuple(expected[key].shape)
    }
    if missing or unexpected or conflicts:
        raise WeightsMismatchError(source, missing, unexpected, conflicts)


def map_vgg_face_dag(
    state: Mapping[str, Any], model: nn.Module, *, source: str
) -> dict[str, torch.Tensor]:
    """Rename a `vgg_face_dag` state dict to torchvision VGG-16 keys.

    Problems are reported with the file's own key names (e.g. ``conv3_2.weight``).
    """
    target = model.state_dict()
    if not all(f"{module}.weight" in target for module in VGG_FACE_DAG_LAYERS.values()):
        raise ValueError(
            "The 'vgg_face_dag' weights format maps onto torchvision VGG-16 only; "
            f"got a {type(model).__name__} for {source}."
        )
    expected = {
        f"{layer}.{kind}": f"{module}.{kind}"
        for layer, module in VGG_FACE_DAG_LAYERS.items()
        for kind in ("weight", "bias")
    }
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mapped: dict[str, torch.Tensor] = {}
    conflicts: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for key in sorted(set(expected) & set(state)):
        tensor, want = state[key], tuple(target[expected[key]].shape)
        if len(want) == 2 and tensor.ndim == 4 and tensor.numel() == want[0] * want[1]:
            # fc layers converted as convolutions: (out, C, h, w) flattens in the same
            # C, h, w order as torch.flatten after the 7x7 pooling.
            tensor = tensor.reshape(want)
        if tuple(tensor.shape) != want:
            conflicts[key] = (tuple(state[key].shape), want)
        mapped[expected[key]] = tensor
    if missing or unexpected or conflicts:
        raise WeightsMismatchError(source, missing, unexpected, conflicts)
    return mapped


def save_checkpoint(path: str | Path, model: nn.Module, spec: ModelSpec) -> ModelSpec:
    """Save `model`'s weights with `spec`; returns the spec pointing at the file (with sha256).

    The spec stored inside the file has no weights fields (a file cannot contain its own
    digest); write the returned spec next to it with ``spec.save(...)``.
    """
    path = Path(path)
    stored = spec.replace(weights_path=None, weights_format=None, weights_sha256=None)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "spec": stored.to_dict(),
            "state_dict": state,
        },
        path,
    )
    return spec.replace(
        weights_path=str(path.resolve()),
        weights_format="checkpoint",
        weights_sha256=file_sha256(path),
    )


def _checkpoint_state_dict(
    data: Mapping[str, Any], spec: ModelSpec, *, source: str
) -> Mapping[str, Any]:
    if data.get("format") == CHECKPOINT_FORMAT:
        stored = ModelSpec.from_dict(data["spec"])
        if (stored.architecture, stored.num_classes) != (spec.architecture, spec.num_classes):
            raise ValueError(
                f"The checkpoint {source} holds a {stored.architecture} with "
                f"{stored.num_classes} classes, but the spec asks for a {spec.architecture} "
                f"with {spec.num_classes}."
            )
        return data["state_dict"]
    return unwrap_training_checkpoint(data)


def unwrap_training_checkpoint(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state dict inside a common training checkpoint (under ``state_dict`` or ``model``),
    without a DataParallel ``module.`` prefix; `data` itself when it is a plain state dict."""
    for key in ("state_dict", "model"):
        if isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if data and all(key.startswith("module.") for key in data):
        data = {key.removeprefix("module."): value for key, value in data.items()}
    return data


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
