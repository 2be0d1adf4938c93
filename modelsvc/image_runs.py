"""Running a per-batch computation over a whole stimulus set, from image files.

`map_over_images` loads the images of each batch, replaces unreadable files by blank
images (so every call keeps the same batch size, see `modelsvc.device.run_batched`), runs
the computation, and drops the failed rows again, reporting each failure by file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from modelsvc.device import run_batched
from modelsvc.images import ImageLoadError, StimulusItem, load_batch


@dataclass(frozen=True)
class ImageRun:
    """Outputs (first axis over the loaded items), their keys, and the failed items."""

    value: Any
    keys: list[str]
    failures: list[ImageLoadError]
    batch_size: int

    def failure_record(self) -> list[dict[str, str]]:
        return [{"path": f.path, "error": f.reason} for f in self.failures]


def map_over_images(
    items: Sequence[StimulusItem],
    size: tuple[int, int],
    compute: Callable[[torch.Tensor, list[int]], Any],
    batch_size: int,
    progress: bool = False,
    description: str = "images",
    on_progress: Callable[[int], None] | None = None,
) -> ImageRun:
    """Call ``compute(images, item_indices)`` per batch and join the results.

    `images` are pixel tensors (B, 3, H, W) in [0, 1]; `compute` returns arrays (or a
    tuple/dict of arrays) with one row per image. `on_progress`, if given, is called after
    every call with the number of items done so far.
    """
    ok = np.zeros(len(items), dtype=bool)
    errors: dict[int, ImageLoadError] = {}
    done: set[int] = set()
    bar = tqdm(total=len(items), desc=description, disable=not progress, leave=False)

    def run(indices: list[int]) -> Any:
        loaded = load_batch([items[i].path for i in indices], size)
        images = torch.zeros(len(indices), 3, *size)
        images[loaded.loaded] = loaded.images
        for position in loaded.loaded:
            ok[indices[position]] = True
        for position, error in zip(loaded.failed, loaded.errors, strict=True):
            errors[indices[position]] = error
        output = compute(images, indices)
        bar.update(len(set(indices) - done))
        done.update(indices)
        if on_progress is not None:
            on_progress(len(done))
        return output

    result = run_batched(run, len(items), batch_size)
    bar.close()
    keep = np.flatnonzero(ok)
    return ImageRun(
        value=_rows(result.value, keep),
        keys=[items[i].key for i in keep],
        failures=[errors[i] for i in sorted(errors)],
        batch_size=result.batch_size,
    )


def _rows(value: Any, keep: np.ndarray) -> Any:
    if isinstance(value, dict):
        return {key: _rows(item, keep) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_rows(item, keep) for item in value)
    return value[keep]
