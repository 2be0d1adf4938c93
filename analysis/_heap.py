"""`kept_heap()`: freed arrays stay in the process heap while an analysis runs (glibc only).

The bootstraps, Mantel tests and embedding fits make and drop thousands of arrays of
hundreds of kilobytes to megabytes.  Under glibc's defaults many are fresh ``mmap``s or heap
tops given back to the system, zeroed again page by page on first write (with transparent
huge pages 2 MiB at a time), which can cost more than the arithmetic (benchmarks/RESULTS.md,
2026-12-06).  Inside the context the mmap and trim thresholds are raised (``mallopt``); when
the outermost one ends they are set to the values glibc's dynamic thresholds reach (32 MiB,
64 MiB; ``mallopt`` turns that adjustment off) and the heap is trimmed, so the memory goes
back to the system.  Only where memory comes from changes, never a result.  Process-wide
(nested and concurrent uses are counted); a no-op without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT = {_M_MMAP_THRESHOLD: 2**30, _M_TRIM_THRESHOLD: 2**31 - 1}
_AFTER = {_M_MMAP_THRESHOLD: 32 * 2**20, _M_TRIM_THRESHOLD: 64 * 2**20}


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


_libc = _glibc()
_lock = threading.Lock()
_depth = 0


@contextmanager
def kept_heap() -> Iterator[None]:
    """Keep freed memory in the heap until the outermost context ends (module docstring)."""
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1 and _libc is not None:
            for option, value in _KEPT.items():
                _libc.mallopt(option, value)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _libc is not None:
                for option, value in _AFTER.items():
                    _libc.mallopt(option, value)
                _libc.malloc_trim(0)
