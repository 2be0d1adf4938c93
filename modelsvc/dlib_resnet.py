"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) as a torch module.

The network (dlib's ``anet_type``): a 7x7/2 convolution with 32 filters, affine, ReLU and a
3x3/2 max-pool; then residual blocks of two 3x3 convolutions, each followed by an affine
layer (batch norm folded into a per-channel scale and shift), with a ReLU after the first
and after the sum. Down-sampling blocks use a stride-2 first convolution (no padding, as
dlib pads only stride-1 layers) and a 2x2/2 average pool on the shortcut; where the two
branches differ in channels or size, dlib adds them with the missing elements taken as zero
(top-left aligned), and so does `DlibResidualBlock`. Widths from the input: 3 x 32,
down 64 + 3 x 64, down 128 + 2 x 128, down 256 + 2 x 256, down 256; then a global average
pool and a 256 -> 128 linear layer without bias (the face descriptor).

Affine layers are `nn.BatchNorm2d` with ``eps=0``, zero running mean and unit running
variance, so eval mode computes exactly ``gamma * x + beta`` and zennit's batch-norm
canonizer can merge them into the preceding convolutions. The residual sum is zennit's
`Sum` module, so LRP rules apply to it.

Preprocessing (dlib's ``input_rgb_image_sized<150>``): a 150x150 RGB chip with 0..255
values, ``(v - mean_rgb) / 256`` with the mean stored in the file (122.782, 117.001,
104.298); in the platform's [0, 1] units that is ``mean = mean_rgb / 255`` and
``std = 256 / 255`` (`DLIB_MEAN`, `DLIB_STD`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from zennit.layer import Sum

from modelsvc.dlib_format import DlibNetwork, read_network

#: Mean RGB of dlib's face-recognition network in [0, 1] units and its scale (256/255).
DLIB_MEAN = (122.782 / 255, 117.001 / 255, 104.298 / 255)
DLIB_STD = (256 / 255, 256 / 255, 256 / 255)
DLIB_INPUT_SIZE = (150, 150)
DLIB_EMBEDDING_SIZE = 128
#: (width, down-sampling first block, number of blocks), from the input.
DLIB_RESNET29_STAGES = (
    (32, False, 3),
    (64, True, 4),
    (128, True, 3),
    (256, True, 3),
    (256, True, 1),
)
#: Where converted weights are cached (``$MODELSVC_CACHE_DIR`` or ``~/.cache/modelsvc``).
CACHE_ENV = "MODELSVC_CACHE_DIR"
_CACHE_VERSION = 1


def _affine(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=0.0)


def pad_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Zero-pad channels, rows and columns at the end up to `shape` (dlib's unequal add)."""
    extra = [shape[i] - tensor.shape[i] for i in (3, 2, 1)]
    if not any(extra):
        return tensor
    return F.pad(tensor, (0, extra[0], 0, extra[1], 0, extra[2]))


class DlibResidualBlock(nn.Module):
    """conv-affine-ReLU-conv-affine plus the (average-pooled) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool) -> None:
        super().__init__()
        stride, padding = (2, 0) if downsample else (1, 1)
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=padding),
            _affine(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            _affine(out_channels),
        )
        self.shortcut = nn.AvgPool2d(2, stride=2) if downsample else nn.Identity()
        self.add = Sum()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual, shortcut = self.residual(x), self.shortcut(x)
        shape = torch.Size(max(a, b) for a, b in zip(residual.shape, shortcut.shape, strict=True))
        stacked = torch.stack([pad_to(residual, shape), pad_to(shortcut, shape)], dim=-1)
        return self.relu(self.add(stacked))


class DlibResNet(nn.Module):
    """dlib's 29-convolution face-recognition ResNet; `num_classes` outputs (128 = descriptor)."""

    def __init__(self, num_classes: int = DLIB_EMBEDDING_SIZE) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 7, stride=2), _affine(32), nn.ReLU(), nn.MaxPool2d(3, stride=2)
        )
        blocks, channels = [], 32
        for width, down, count in DLIB_RESNET29_STAGES:
            for index in range(count):
                blocks.append(DlibResidualBlock(channels, width, downsample=down and index == 0))
                channels = width
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.layers(self.stem(x))), 1))


class DlibResNetClassifier(DlibResNet):
    """dlib's network with a linear classifier (with bias) on its 128-D descriptor.

    The architecture of a model finetuned from dlib's network (``dlib_resnet29_head``): the
    descriptor layer ``fc`` stays as dlib trained it, so the child still has the face
    descriptor as a layer, and the new ``classifier`` maps it to `num_classes` logits.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__(DLIB_EMBEDDING_SIZE)
        self.classifier = nn.Linear(DLIB_EMBEDDING_SIZE, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(super().forward(x))


def dlib_layer_kinds() -> list[str]:
    """The layers of dlib's ``anet_type`` from the input to the output, as written in the file."""
    kinds = ["con", "affine", "relu", "max_pool"]
    for _, down, count in DLIB_RESNET29_STAGES:
        for index in range(count):
            body = ["tag", "con", "affine", "relu", "con", "affine"]
            if down and index == 0:
                kinds += [*body, "tag", "skip", "avg_pool", "add_prev", "relu"]
            else:
                kinds += [*body, "add_prev", "relu"]
    return [*kinds, "avg_pool", "fc"]


def _torch_names(model: DlibResNet) -> list[tuple[str, nn.Module]]:
    """Modules with weights, in the file's order (conv, affine, ..., fc)."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d | nn.BatchNorm2d | nn.Linear)
    ]


def _check_conv(config: dict, module: nn.Conv2d, name: str) -> None:
    got = (config["filters"], config["kernel"], config["stride"], config["padding"])
    want = (module.out_channels, module.kernel_size, module.stride, module.padding)
    if got != want:
        raise ValueError(
            f"The dlib convolution for {name} has (filters, kernel, stride, padding) {got}; "
            f"DlibResNet has {want}."
        )


def dlib_state_dict(network: DlibNetwork) -> dict[str, torch.Tensor]:
    """A `DlibResNet` state dict from the layers read by `read_network`."""
    model = DlibResNet()
    weighted = [layer for layer in network.layers if layer.kind in ("con", "affine", "fc")]
    modules = _torch_names(model)
    if len(weighted) != len(modules):
        raise ValueError(
            f"The dlib network has {len(weighted)} weighted layers; DlibResNet has {len(modules)}."
        )
    state: dict[str, torch.Tensor] = {}
    for layer, (name, module) in zip(weighted, modules, strict=True):
        arrays = {key: torch.from_numpy(value.copy()) for key, value in layer.arrays.items()}
        if layer.kind == "con":
            _check_conv(layer.config, module, name)
            state[f"{name}.weight"] = arrays["weight"]
            state[f"{name}.bias"] = arrays.get("bias", torch.zeros(module.out_channels))
        elif layer.kind == "affine":
            state[f"{name}.weight"] = arrays["gamma"]
            state[f"{name}.bias"] = arrays["beta"]
            state[f"{name}.running_mean"] = torch.zeros_like(arrays["gamma"])
            state[f"{name}.running_var"] = torch.ones_like(arrays["gamma"])
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
        else:
            state[f"{name}.weight"] = arrays["weight"]
    return state


def read_dlib_resnet(path: str | Path) -> dict[str, torch.Tensor]:
    """Read ``dlib_face_recognition_resnet_model_v1.dat`` (or a file of the same network).

    Checks the input layer (150x150 RGB) and that the stored mean is `DLIB_MEAN`.
    """
    network = read_network(path, dlib_layer_kinds())
    size, mean = network.input["size"], network.input["mean_rgb"]
    if tuple(size) != DLIB_INPUT_SIZE:
        raise ValueError(f"The dlib network in {str(path)!r} takes {size} inputs, not 150x150.")
    if any(abs(a / 255 - b) > 1e-6 for a, b in zip(mean, DLIB_MEAN, strict=True)):
        raise ValueError(f"The dlib network in {str(path)!r} has mean RGB {mean}, not dlib's.")
    return dlib_state_dict(network)


def cache_dir() -> Path:
    """The folder of converted weights: ``$MODELSVC_CACHE_DIR`` or ``~/.cache/modelsvc``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "modelsvc")


def load_dlib_resnet(path: str | Path) -> dict[str, torch.Tensor]:
    """`read_dlib_resnet` once per file content; later calls load the cached ``.pt`` file."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cached = cache_dir() / f"dlib_resnet-v{_CACHE_VERSION}-{digest[:32]}.pt"
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    state = read_dlib_resnet(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    torch.save(state, partial)
    partial.replace(cached)
    return state
