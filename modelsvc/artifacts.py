"""Arrays on disk: one ``.npz`` plus a JSON record next to it (``<name>.npz``/``<name>.json``).

The JSON holds the method, its parameters, the ``code_version`` (part of the platform's
artifact key), the stimulus ids, each array's dtype and shape, and the sha256 of the
``.npz``. Storage dtypes (chosen by the writers in `modelsvc.cli`):

- relevance maps: float32. Maps are the input of the masking experiments, whose top-k
  pixel sets must be reproducible from the stored file; rounding VGG-16 maps to float16
  moved the top-1/10/50 % pixel sets to IoU 0.9970/0.9990/0.9998 with the float32 ones in
  `benchmarks/relevance.py` (typical values are 1e-5..1e-7, where float16 is subnormal).
- embeddings: float16 (activations are O(0.01..100); rounding error ~5e-4 relative,
  far below what changes a 1 - Pearson dissimilarity matrix at the reported precision);
- dissimilarity matrices, masking results, logits: float32/float64/bool as computed.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np


def npz_encode(arrays: dict[str, np.ndarray]) -> tuple[bytes, str]:
    """`arrays` as the bytes of an uncompressed ``.npz`` and their sha256 (hex)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def npz_decode(data: bytes, *, sha256: str | None, name: str) -> dict[str, np.ndarray]:
    """The arrays in ``.npz`` bytes; bytes whose sha256 is not the recorded one are an error."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"The arrays file {name!r} has sha256 {digest}, but its record says {sha256}."
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> Path:
    """Write ``path`` (.npz, uncompressed) and its JSON record; returns the JSON path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(
            f"The 'path' parameter of save_arrays must end in .npz; got {str(path)!r}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    data, sha256 = npz_encode(arrays)
    path.write_bytes(data)
    full = {
        **record,
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
        "npz": path.name,
        "sha256": sha256,
    }
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps(full, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    return json_path


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a ``.npz`` and its JSON record; a changed file (sha256 mismatch) is an error."""
    path = Path(path)
    record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    arrays = npz_decode(path.read_bytes(), sha256=record.get("sha256"), name=str(path))
    return arrays, record


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Not JSON serialisable: {type(value).__name__}")
