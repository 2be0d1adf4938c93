"""Tell what a weights file holds, so a registration form can be filled in from it.

`inspect_weights` recognises, without building a real network:

- a ``modelsvc`` checkpoint (`modelsvc.weights.save_checkpoint`): its whole spec, including
  the class names and the finetuning record with its validation accuracy;
- a plain torchvision-style state dict, or a training checkpoint holding one under
  ``state_dict``/``model`` (a ``module.`` prefix allowed): the architecture whose keys and
  shapes match exactly, and the number of classes from its output layer;
- VGG-Face in the ``vgg_face_dag`` layout (``conv1_1`` … ``fc8``);
- dlib's face-recognition network file (``.dat``).

Candidate architectures are built on the ``meta`` device (shapes only, no memory, no
random numbers), and tensors are memory-mapped, so even a 500 MB file is inspected quickly.
Files are read with ``weights_only=True`` as in `modelsvc.weights.read_weights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelsvc.architectures import ARCHITECTURES
from modelsvc.dlib_resnet import DLIB_EMBEDDING_SIZE, DLIB_INPUT_SIZE, DLIB_MEAN, DLIB_STD
from modelsvc.spec import ModelSpec
from modelsvc.weights import (
    CHECKPOINT_FORMAT,
    VGG_FACE_DAG_LAYERS,
    VGG_FACE_MEAN,
    VGG_FACE_STD,
    read_weights,
    unwrap_training_checkpoint,
)

_DLIB_MARKER = b"loss_metric"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class WeightsInfo:
    """What a weights file says about its model; ``spec`` holds only what the file tells."""

    weights_format: str
    spec: ModelSpec
    summary: str

    @property
    def val_accuracy(self) -> float | None:
        return (self.spec.training or {}).get("val_accuracy")


def inspect_weights(path: str | Path) -> WeightsInfo:
    """The format, architecture and output size of the weights in `path`.

    Raises ``ValueError`` in plain words when the file is no weights file we can read or
    fits none of the known architectures.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head.startswith(_ZIP_MAGIC) and _DLIB_MARKER in head:
        return _dlib_info()
    data = read_weights(path, mmap=head.startswith(_ZIP_MAGIC))
    if data.get("format") == CHECKPOINT_FORMAT:
        return _checkpoint_info(data)
    if "fc8.weight" in data and "conv1_1.weight" in data:
        return _vgg_face_info(data)
    state = unwrap_training_checkpoint(data)
    weights_format = "torchvision" if state is data else "checkpoint"
    for name in ARCHITECTURES:
        num_classes = _matching_classes(name, state)
        if num_classes is not None:
            spec = ModelSpec(name, num_classes, input_size=ARCHITECTURES[name].input_size)
            kind = "A state dict" if weights_format == "torchvision" else "A training checkpoint"
            return WeightsInfo(
                weights_format, spec, f"{kind} of a {name} with {num_classes} outputs."
            )
    raise ValueError(
        "The file holds PyTorch tensors, but their names and shapes fit none of the known "
        f"architectures ({', '.join(ARCHITECTURES)})."
    )


def _matching_classes(name: str, state: Mapping[str, Any]) -> int | None:
    """The number of classes for which `name` has exactly the keys and shapes of `state`."""
    architecture = ARCHITECTURES[name]
    head = state.get(f"{architecture.head}.weight")
    if not isinstance(head, torch.Tensor) or head.ndim != 2:
        return None
    with torch.device("meta"):
        expected = architecture.build(head.shape[0]).state_dict()
    if set(expected) != set(state):
        return None
    if any(tuple(state[key].shape) != tuple(value.shape) for key, value in expected.items()):
        return None
    return head.shape[0]


def _checkpoint_info(data: Mapping[str, Any]) -> WeightsInfo:
    spec = ModelSpec.from_dict(data["spec"])
    accuracy = (spec.training or {}).get("val_accuracy")
    summary = f"A FaceSim checkpoint of a {spec.architecture} with {spec.num_classes} classes"
    summary += f" (validation accuracy {accuracy:.2f})." if accuracy is not None else "."
    return WeightsInfo("checkpoint", spec, summary)


def _vgg_face_info(data: Mapping[str, Any]) -> WeightsInfo:
    num_classes = data["fc8.weight"].shape[0]
    missing = [f"{layer}.weight" for layer in VGG_FACE_DAG_LAYERS if f"{layer}.weight" not in data]
    if missing:
        raise ValueError(f"The file looks like VGG-Face but lacks {', '.join(missing)}.")
    spec = ModelSpec("vgg16", num_classes, mean=VGG_FACE_MEAN, std=VGG_FACE_STD)
    return WeightsInfo("vgg_face_dag", spec, f"VGG-Face (vgg_face_dag) with {num_classes} classes.")


def _dlib_info() -> WeightsInfo:
    spec = ModelSpec(
        "dlib_resnet29",
        DLIB_EMBEDDING_SIZE,
        input_size=DLIB_INPUT_SIZE,
        mean=DLIB_MEAN,
        std=DLIB_STD,
    )
    return WeightsInfo("dlib_dat", spec, "dlib's face-recognition network (128-D descriptor).")
