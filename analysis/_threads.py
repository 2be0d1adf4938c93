"""Independent pieces of an analysis on several threads (``n_jobs``), with the same results.

Where `n_jobs` is offered (`analyse_study`, `compare_models`, `select_dimensionality`), the
pieces are independent computations (one statistic's dual bootstrap and Mantel tests; one
embedding fit of a fold): each reads shared inputs, writes only its own result, and draws
nothing at random (the draws and seeds are made before), so the results are the same floats
for any `n_jobs`, in the same order.  Threads, not processes: the work is numpy array code
that releases the GIL, nothing is pickled, and a Celery prefork worker's pool processes are
daemonic and may not start processes of their own.  The kernels' scratch arrays are per thread
(`analysis.kernels.scratch`).  Give as many jobs as the cores this computation may use: the
report job takes them from the setting ``FACESIM_ANALYSIS_THREADS`` (README, "Workers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from analysis._checks import check_int

T = TypeVar("T")
R = TypeVar("R")


def check_n_jobs(func: str, n_jobs) -> int:
    """`n_jobs` as a positive int (the scikit-learn style error otherwise)."""
    return check_int(func, "n_jobs", n_jobs, minimum=1)


def map_in_threads(function: Callable[[T], R], items: Iterable[T], n_jobs: int) -> list[R]:
    """``[function(item) for item in items]``, on up to `n_jobs` threads, in order."""
    items = list(items)
    if n_jobs <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(n_jobs, len(items))) as pool:
        return list(pool.map(function, items))
