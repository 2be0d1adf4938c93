"""Registry of model architectures by name: torchvision VGG-16 (plain and batch-norm),
ResNet-50, and a small VGG-style CNN that trains on a CPU in minutes.

An `Architecture` knows how to build an untrained network, its usual input size, its
default layers of interest, the name of its output layer and the zennit canonizers LRP
needs for it. Nothing here loads weights (see `modelsvc.weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from modelsvc.dlib_resnet import DLIB_INPUT_SIZE, DlibResNet, DlibResNetClassifier
from modelsvc.validation import check_choice, check_int


class SmallCNN(nn.Module):
    """A VGG-style network: conv/ReLU/max-pool blocks, adaptive average pooling, linear head.

    It has the same `features` / `avgpool` / `classifier` layout as torchvision's VGG, so the
    fast LRP path and head finetuning treat both the same way. Default: four 3x3 conv blocks
    (16, 32, 64, 64 channels) and a 128-unit hidden layer, ~0.1 M parameters; at 64x64 input
    a forward pass is ~14 M multiply-adds per image.
    """

    def __init__(
        self,
        num_classes: int,
        widths: tuple[int, ...] = (16, 32, 64, 64),
        hidden: int = 128,
        pool_size: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        check_int("SmallCNN", "num_classes", num_classes, minimum=1)
        blocks: list[nn.Module] = []
        channels = 3
        for width in widths:
            blocks += [
                nn.Conv2d(channels, width, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
            ]
            channels = width
        self.features = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _vgg_canonizers() -> list:
    return []


def _vgg_bn_canonizers() -> list:
    from zennit.torchvision import VGGCanonizer

    return [VGGCanonizer()]


def _dlib_canonizers() -> list:
    from zennit.canonizers import SequentialMergeBatchNorm

    return [SequentialMergeBatchNorm()]


def _resnet_canonizers() -> list:
    from zennit.torchvision import ResNetCanonizer

    return [ResNetCanonizer()]


@dataclass(frozen=True)
class Architecture:
    """How to build one kind of network and what LRP and embeddings need to know about it."""

    name: str
    build: Callable[[int], nn.Module]
    input_size: tuple[int, int]
    layers: tuple[str, ...]
    head: str
    canonizers: Callable[[], list]
    description: str
    #: The architecture of a finetuned child. None: finetuning replaces `head` by a new
    #: layer. A name: finetuning keeps this whole network (its output is a descriptor) and
    #: puts that architecture's `head` on top of it, so the child is that architecture.
    finetune_as: str | None = None


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(
            "vgg16",
            lambda n: torchvision.models.vgg16(weights=None, num_classes=n),
            (224, 224),
            ("features.30", "classifier.1", "classifier.4"),
            "classifier.6",
            _vgg_canonizers,
            "torchvision VGG-16 (13 conv + 3 fc); pool5, fc6 and fc7 (after ReLU) by default",
        ),
        Architecture(
            "vgg16_bn",
            lambda n: torchvision.models.vgg16_bn(weights=None, num_classes=n),
            (224, 224),
            ("features.43", "classifier.1", "classifier.4"),
            "classifier.6",
            _vgg_bn_canonizers,
            "torchvision VGG-16 with batch norm; LRP merges BN into the convolutions",
        ),
        Architecture(
            "resnet50",
            lambda n: torchvision.models.resnet50(weights=None, num_classes=n),
            (224, 224),
            ("layer3", "layer4", "avgpool"),
            "fc",
            _resnet_canonizers,
            "torchvision ResNet-50; LRP through zennit's ResNet canonizer",
        ),
        Architecture(
            "small_cnn",
            SmallCNN,
            (64, 64),
            ("features.11", "classifier.1"),
            "classifier.3",
            _vgg_canonizers,
            "4-block VGG-style CNN for CPU demos and tests (see SmallCNN)",
        ),
        Architecture(
            "dlib_resnet29",
            DlibResNet,
            DLIB_INPUT_SIZE,
            ("layers.6", "layers.9", "layers.12", "layers.13", "fc"),
            "fc",
            _dlib_canonizers,
            "dlib's face-recognition ResNet (29 conv, 150 px, 128-D descriptor; weights: "
            "weights_format 'dlib_dat'); LRP merges its affine layers into the convolutions",
            finetune_as="dlib_resnet29_head",
        ),
        Architecture(
            "dlib_resnet29_head",
            DlibResNetClassifier,
            DLIB_INPUT_SIZE,
            ("layers.6", "layers.9", "layers.12", "layers.13", "fc"),
            "classifier",
            _dlib_canonizers,
            "dlib's face-recognition ResNet with a linear classifier on its 128-D descriptor "
            "(fc): the architecture of models finetuned from dlib_resnet29",
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    """The registered architecture called `name`."""
    check_choice("get_architecture", "name", name, ARCHITECTURES)
    return ARCHITECTURES[name]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called `name`; an unknown name lists the available ones."""
    modules = dict(model.named_modules())
    if name not in modules:
        available = [n for n in modules if n]
        raise ValueError(
            f"The 'name' parameter of get_module must name a module of "
            f"{type(model).__name__}; got {name!r}. Available: {available}"
        )
    return modules[name]


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule called `name` (dotted path) by `module`."""
    get_module(model, name)
    parent_name, _, child = name.rpartition(".")
    parent = get_module(model, parent_name) if parent_name else model
    setattr(parent, child, module)
