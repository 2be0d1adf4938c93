"""Flat scratch arrays reused across calls, so the tau-a kernels do not allocate a fresh
megabyte-sized array per block of rows."""

from __future__ import annotations

import threading

import numpy as np

# entries per block of rows in the tau-a kernels (and the smallest scratch array)
CHUNK_ELEMENTS = 2**18


class Scratch(threading.local):
    """Flat arrays reused across calls, one per name.  On machines with transparent huge
    pages, every fresh array of a megabyte is zeroed page by page when first written, which
    costs more than the arithmetic done on it; tau-a runs thousands of blocks."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int], dtype) -> np.ndarray:
        size = shape[0] * shape[1]
        array = self.arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = self.arrays[name] = np.empty(max(size, CHUNK_ELEMENTS), dtype=dtype)
        return array[:size].reshape(shape)


scratch = Scratch()
