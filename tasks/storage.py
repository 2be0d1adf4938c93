"""Arrays in Django storage: ``.npz`` files with their sha256 checked on every read."""

import hashlib
from functools import lru_cache

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from modelsvc.artifacts import npz_decode, npz_encode


def store_file(name: str, data: bytes) -> tuple[str, str]:
    """Save ``data`` as ``name`` (or a free variant of it); returns (stored name, sha256)."""
    stored = default_storage.save(name, ContentFile(data))
    return stored, hashlib.sha256(data).hexdigest()


def store_arrays(name: str, arrays: dict[str, np.ndarray]) -> tuple[str, str]:
    """Save ``arrays`` as an ``.npz`` (see ``store_file``)."""
    return store_file(name, npz_encode(arrays)[0])


def read_arrays(name: str, sha256: str) -> dict[str, np.ndarray]:
    """Load a stored ``.npz``; a file whose sha256 changed is an error, not data."""
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    return npz_decode(data, sha256=sha256, name=name)


@lru_cache(maxsize=4)
def read_arrays_cached(name: str, sha256: str) -> dict[str, np.ndarray]:
    """``read_arrays`` for files read again and again (relevance maps): kept per process.

    Stored arrays never change under a name and digest, so the cache cannot go stale.
    """
    return read_arrays(name, sha256)


def local_path(name: str) -> str:
    """A local file path for a stored file (the file-system storage keeps files locally)."""
    return default_storage.path(name)
