"""Test helpers: randomised networks and tiny image sets."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random biases and batch-norm statistics (torchvision initialises them to 0/1)."""
    generator = torch.Generator().manual_seed(seed)

    def draw(shape, scale, offset=0.0):
        return torch.randn(shape, generator=generator) * scale + offset

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear) and module.bias is not None:
                module.bias.copy_(draw(module.bias.shape, 0.1))
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(draw(n, 0.1))
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(draw(n, 0.1))
    return model


def tiny_vgg(num_classes: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """A VGG-shaped nn.Sequential: conv blocks (optionally with BN), pools, two linear layers."""
    layers: list[nn.Module] = []
    channels = 3
    for width in (4, 6):
        layers.append(nn.Conv2d(channels, width, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers += [nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = width
    layers += [
        nn.AdaptiveAvgPool2d((3, 3)),
        nn.Flatten(),
        nn.Linear(channels * 9, 10),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(10, num_classes),
    ]
    return nn.Sequential(*layers)


def write_images(folder: Path, n_images: int, size: int, seed: int = 0) -> Path:
    """Reddish (class "a") and bluish (class "b") noisy squares, 2 per identity, + metadata."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n_images):
        label = "a" if (index // 2) % 2 == 0 else "b"
        base = np.array([200, 60, 60] if label == "a" else [60, 60, 200], dtype=float)
        pixels = np.clip(base + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
        name = f"img{index:02d}.png"
        Image.fromarray(pixels, "RGB").save(folder / name)
        rows.append({"filename": name, "colour": label, "identity": f"p{index // 2}"})
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["filename", "colour", "identity"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def max_relative_error(result: torch.Tensor, reference: torch.Tensor) -> float:
    """Per image: max |result - reference| / max |reference|; the worst image.

    Scale-free and robust to near-zero pixels (an element-wise relative error is not).
    """
    dims = tuple(range(1, reference.ndim))
    error = (result - reference).abs().amax(dims) / reference.abs().amax(dims)
    return float(error.max())


class RunsOutOfMemoryAbove(torch.nn.Module):
    """Wraps a model; batches bigger than ``limit`` raise CUDA's out-of-memory error."""

    def __init__(self, model, limit):
        super().__init__()
        self.model, self.limit, self.sizes = model, limit, []

    def forward(self, x):
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.model(x)
