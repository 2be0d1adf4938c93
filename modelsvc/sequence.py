"""View a network as the flat sequence of modules its forward pass applies.

The fast LRP path walks this sequence backwards, and finetuning splits it into a frozen
trunk and a trainable top. Known layouts: torchvision VGG and `SmallCNN` (``features``,
``avgpool``, flatten, ``classifier``), torchvision ResNet (stem, ``layer1``-``layer4``,
``avgpool``, flatten, ``fc``), `DlibResNet` (stem, residual blocks, ``avgpool``, flatten,
``fc``, and a `DlibResNetClassifier`'s ``classifier``), and any (nested) ``nn.Sequential``.
"""

from __future__ import annotations

import torchvision
from torch import nn

from modelsvc.architectures import SmallCNN
from modelsvc.dlib_resnet import DlibResNet, DlibResNetClassifier

FLATTEN = "flatten"


class NotSequentialError(TypeError):
    """The model's forward pass is not known to be a plain sequence of modules."""


def to_sequence(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) pairs in forward order; flatten steps are named ``flatten``."""
    if isinstance(model, torchvision.models.VGG | SmallCNN):
        return [
            *_children("features", model.features),
            ("avgpool", model.avgpool),
            (FLATTEN, nn.Flatten()),
            *_children("classifier", model.classifier),
        ]
    if isinstance(model, DlibResNet):
        return [
            *_children("stem", model.stem),
            *((f"layers.{name}", block) for name, block in model.layers.named_children()),
            ("avgpool", model.avgpool),
            (FLATTEN, nn.Flatten()),
            ("fc", model.fc),
            *(
                [("classifier", model.classifier)]
                if isinstance(model, DlibResNetClassifier)
                else []
            ),
        ]
    if isinstance(model, torchvision.models.ResNet):
        stem = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        return [
            *((name, getattr(model, name)) for name in stem),
            ("avgpool", model.avgpool),
            (FLATTEN, nn.Flatten()),
            ("fc", model.fc),
        ]
    if isinstance(model, nn.Sequential):
        return _children("", model)
    raise NotSequentialError(
        f"{type(model).__name__} is not a known sequential layout "
        "(torchvision VGG/ResNet, SmallCNN or nn.Sequential)."
    )


def _children(prefix: str, container: nn.Sequential) -> list[tuple[str, nn.Module]]:
    steps: list[tuple[str, nn.Module]] = []
    for name, child in container.named_children():
        qualified = f"{prefix}.{name}" if prefix else name
        if isinstance(child, nn.Sequential):
            steps += _children(qualified, child)
        else:
            steps.append((qualified, child))
    return steps
