"""Device choice and batched execution with out-of-memory back-off.

Nothing here touches CUDA at import time; `pick_device` asks torch only when called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from modelsvc.validation import check_int

logger = logging.getLogger(__name__)


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """CUDA when available, else CPU; or the `preferred` device ("cpu", "cuda", "cuda:1", ...).

    Asking for CUDA on a machine without it is an error rather than a silent CPU run.
    """
    if preferred is None or preferred == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preferred)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            "The 'preferred' parameter of pick_device must be None, 'auto' or a torch device "
            f"string; got {preferred!r}."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "The 'preferred' parameter of pick_device asks for CUDA but torch.cuda.is_available() "
            f"is False; got {preferred!r}."
        )
    return device


@dataclass(frozen=True)
class BatchedRun:
    """Result of `run_batched`: the concatenated outputs and how the run went."""

    value: Any
    batch_size: int
    oom_retries: int


def run_batched(
    fn: Callable[[list[int]], Any],
    n_items: int,
    batch_size: int,
    *,
    pad: bool = True,
) -> BatchedRun:
    """Call ``fn(indices)`` on consecutive chunks of ``range(n_items)`` and concatenate.

    `fn` returns an array/tensor whose first axis follows `indices` (or a tuple/dict of such).
    With `pad`, the last chunk is padded to `batch_size` by repeating its last index and the
    padding rows are dropped again: every call then has the same batch size, so optimised
    kernels (oneDNN, MKL, cuDNN), whose rounding can depend on the batch size, give each item
    bit-identical results however a stimulus set is split into calls.

    On ``torch.cuda.OutOfMemoryError`` the batch size is halved and the failed chunk retried;
    at batch size 1 the error propagates. A halved batch size can change results in the last
    float bits, which is why the size used is returned.
    """
    check_int("run_batched", "n_items", n_items, minimum=1)
    size = check_int("run_batched", "batch_size", batch_size, minimum=1)
    chunks: list[Any] = []
    start, retries = 0, 0
    while start < n_items:
        stop = min(start + size, n_items)
        indices = list(range(start, stop))
        if pad:
            indices += [stop - 1] * (size - len(indices))
        try:
            output = fn(indices)
        except torch.cuda.OutOfMemoryError:
            if size == 1:
                raise
            size //= 2
            retries += 1
            logger.warning("Out of memory; retrying items %d.. with batch size %d", start, size)
            if torch.cuda.is_initialized():
                torch.cuda.empty_cache()
            continue
        chunks.append(_take_rows(output, stop - start))
        start = stop
    return BatchedRun(_concatenate(chunks), size, retries)


def _take_rows(output: Any, n_rows: int) -> Any:
    if isinstance(output, dict):
        return {key: _take_rows(value, n_rows) for key, value in output.items()}
    if isinstance(output, tuple):
        return tuple(_take_rows(value, n_rows) for value in output)
    if isinstance(output, np.ndarray | torch.Tensor):
        if output.shape[0] < n_rows:
            raise ValueError(
                f"run_batched: fn returned {output.shape[0]} rows for a chunk of {n_rows} items."
            )
        return output[:n_rows]
    raise TypeError(
        "run_batched: fn must return an array, a tensor, or a tuple/dict of them; "
        f"got {type(output).__name__}."
    )


def _concatenate(chunks: Sequence[Any]) -> Any:
    first = chunks[0]
    if isinstance(first, dict):
        return {key: _concatenate([chunk[key] for chunk in chunks]) for key in first}
    if isinstance(first, tuple):
        return tuple(_concatenate([chunk[i] for chunk in chunks]) for i in range(len(first)))
    if isinstance(first, torch.Tensor):
        return torch.cat(list(chunks))
    return np.concatenate(list(chunks))
