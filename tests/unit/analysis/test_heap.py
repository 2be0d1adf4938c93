"""`analysis._heap.kept_heap`: nested and concurrent uses, and arrays made inside it."""

import threading

import numpy as np

from analysis import _heap


def test_kept_heap_counts_nested_and_concurrent_uses():
    def use():
        with _heap.kept_heap(), _heap.kept_heap():
            assert _heap._depth >= 2
            np.ones(2**20).sum()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _heap._depth == 0
    with _heap.kept_heap():
        a = np.arange(2**21, dtype=float)
    assert a.sum() == (2**21 - 1) * 2**20  # still valid after the heap is trimmed
