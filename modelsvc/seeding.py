"""Random streams derived from (seed, purpose, item key), independent of batching.

A random mask or noise fill for an image must be the same whether the image is processed
alone, in a batch of 3 or with the whole set, so every image gets its own generator seeded
from the run's seed, the purpose (e.g. ``"noise-fill"``) and the image's stable key.
"""

from __future__ import annotations

import hashlib

import numpy as np

from modelsvc.validation import check_int


def item_rng(seed: int, purpose: str, key: str) -> np.random.Generator:
    """A numpy Generator for one item; same (seed, purpose, key) -> same stream."""
    check_int("item_rng", "seed", seed, minimum=0)
    digest = hashlib.sha256(f"{purpose}\0{key}".encode()).digest()
    words = tuple(int(word) for word in np.frombuffer(digest, dtype=np.uint32))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=words))
