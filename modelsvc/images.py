"""Stimulus images: discovery, metadata, loading with per-file errors, normalisation.

Images are returned as float32 tensors of shape (N, 3, H, W) with values in [0, 1]
(grayscale files are replicated to RGB), resized to the model's input size with Pillow's
antialiased bilinear filter. Normalisation by the spec's mean/std is a separate step
(`normalize`), because masking works on pixel values before normalisation.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from modelsvc.spec import ModelSpec

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp", ".tif", ".tiff"})
#: What Pillow raises for unreadable, truncated or hostile files.
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class ImageLoadError(Exception):
    """One image could not be loaded; names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot load image {self.path!r}: {reason}")


@dataclass(frozen=True)
class StimulusItem:
    """One image of a stimulus set: a stable key (path relative to the set's folder), its
    file, and its labels (column -> value) from the metadata."""

    key: str
    path: Path
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedBatch:
    """The images that loaded (in request order) and their positions in the request; the
    positions that failed and their errors."""

    images: torch.Tensor
    loaded: list[int]
    failed: list[int]
    errors: list[ImageLoadError]


def discover_images(folder: str | Path) -> list[StimulusItem]:
    """All image files under `folder` (recursively), sorted by key, without labels."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(
            f"The 'folder' parameter of discover_images must be a directory; got {str(root)!r}."
        )
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"No image files ({sorted(IMAGE_SUFFIXES)}) found under {str(root)!r}.")
    return [StimulusItem(p.relative_to(root).as_posix(), p) for p in paths]


def read_metadata(
    csv_path: str | Path, images_dir: str | Path, filename_column: str = "filename"
) -> list[StimulusItem]:
    """Items from a metadata CSV: `filename_column` is relative to `images_dir`; every other
    column becomes a label. Rows keep the CSV's order; a missing file fails when loaded."""
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ValueError(f"Cannot read metadata CSV {str(csv_path)!r}: {exc}") from exc
    if not rows or filename_column not in rows[0]:
        columns = list(rows[0]) if rows else []
        raise ValueError(
            f"The 'filename_column' parameter of read_metadata must be a column of "
            f"{str(csv_path)!r}; got {filename_column!r}. Columns: {columns}"
        )
    keys = [row[filename_column] for row in rows]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"Metadata CSV {str(csv_path)!r} lists files twice: {duplicates}")
    return [
        StimulusItem(
            row[filename_column],
            images_dir / row[filename_column],
            {k: v for k, v in row.items() if k != filename_column},
        )
        for row in rows
    ]


def load_image(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """One image as a (3, H, W) float32 tensor in [0, 1]; raises `ImageLoadError`."""
    height, width = size
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    except _PIL_ERRORS as exc:
        raise ImageLoadError(path, f"{type(exc).__name__}: {exc}") from exc
    array = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def load_batch(paths: Sequence[str | Path], size: tuple[int, int]) -> LoadedBatch:
    """Load several images; failures are collected per file instead of aborting the batch."""
    images, loaded, failed, errors = [], [], [], []
    for position, path in enumerate(paths):
        try:
            images.append(load_image(path, size))
        except ImageLoadError as error:
            failed.append(position)
            errors.append(error)
        else:
            loaded.append(position)
    stacked = torch.stack(images) if images else torch.empty(0, 3, *size)
    return LoadedBatch(stacked, loaded, failed, errors)


def normalize(images: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """(images - mean) / std per channel, in the images' dtype and device."""
    mean = torch.tensor(spec.mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std
