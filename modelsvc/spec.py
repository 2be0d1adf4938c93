"""`ModelSpec`: the JSON-serialisable description of a model (architecture, weights, preprocessing).

A spec is what the platform stores for a model and what a worker needs to rebuild it:
`modelsvc.weights.load_model(spec, device)`. `cache_key()` is a stable content hash that a
worker can use to cache loaded models per process and that artifacts record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from modelsvc.validation import check_choice, check_int

WEIGHTS_FORMATS = ("torchvision", "checkpoint", "vgg_face_dag", "dlib_dat")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model and feed it images.

    Attributes:
        architecture: registry name (`modelsvc.architectures.ARCHITECTURES`).
        num_classes: size of the output layer.
        class_names: one name per output unit (empty when unknown, e.g. ImageNet).
        input_size: (height, width) images are resized to.
        mean, std: per-channel normalisation on pixel values scaled to [0, 1].
        layers: layer names of interest for embeddings (torch module names).
        weights_path: local weights file; None means random initialisation from `seed`.
        weights_format: "torchvision" (plain state dict), "checkpoint" (saved by
            `modelsvc.weights.save_checkpoint`), "vgg_face_dag" (converted VGG-Face) or
            "dlib_dat" (dlib's face-recognition network file, `modelsvc.dlib_resnet`).
        weights_sha256: if set, the weights file must have this digest.
        task: label column the output layer was trained on (e.g. "gender", "identity").
        parent: cache key of the spec this model was finetuned from.
        seed: random seed (initialisation, finetuning).
        training: finetuning record (split, settings, per-epoch history, validation accuracy).
        name: a human-readable label.
    """

    architecture: str
    num_classes: int
    input_size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    class_names: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    weights_path: str | None = None
    weights_format: str | None = None
    weights_sha256: str | None = None
    task: str | None = None
    parent: str | None = None
    seed: int = 0
    training: dict[str, Any] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        owner = "ModelSpec"
        if not isinstance(self.architecture, str) or not self.architecture:
            raise ValueError(
                f"The 'architecture' parameter of {owner} must be a non-empty string; "
                f"got {self.architecture!r}."
            )
        check_int(owner, "num_classes", self.num_classes, minimum=1)
        check_int(owner, "seed", self.seed, minimum=0)
        object.__setattr__(self, "input_size", _int_pair(self.input_size))
        object.__setattr__(self, "mean", _float_triple("mean", self.mean, positive=False))
        object.__setattr__(self, "std", _float_triple("std", self.std, positive=True))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "layers", tuple(str(layer) for layer in self.layers))
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"The 'class_names' parameter of {owner} must be empty or have num_classes="
                f"{self.num_classes} entries; got {len(self.class_names)}: {self.class_names!r}."
            )
        if (self.weights_path is None) != (self.weights_format is None):
            raise ValueError(
                f"The 'weights_format' parameter of {owner} must be set exactly when "
                f"'weights_path' is set; got weights_path={self.weights_path!r}, "
                f"weights_format={self.weights_format!r}."
            )
        if self.weights_format is not None:
            check_choice(owner, "weights_format", self.weights_format, WEIGHTS_FORMATS)
        if self.weights_path is not None:
            object.__setattr__(self, "weights_path", str(self.weights_path))

    def __hash__(self) -> int:
        return hash(self.cache_key())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def cache_key(self) -> str:
        """sha256 of the canonical JSON of every field: equal specs give equal keys."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Inverse of `to_dict`; unknown keys are an error that lists them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"The 'data' parameter of ModelSpec.from_dict has unknown keys {unknown}; "
                f"known keys are {sorted(known)}."
            )
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write the spec as JSON (its folder is made if missing)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelSpec:
        """Read a spec JSON; a relative `weights_path` is resolved against the file's folder."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"Cannot read a model spec from {str(path)!r}: {exc}") from exc
        spec = cls.from_dict(data)
        if spec.weights_path is not None and not Path(spec.weights_path).is_absolute():
            spec = spec.replace(weights_path=str((path.parent / spec.weights_path).resolve()))
        return spec


def _int_pair(value: Any) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, list | tuple) else (value,)
    if len(items) != 2:
        raise ValueError(
            f"The 'input_size' parameter of ModelSpec must be (height, width); got {value!r}."
        )
    return (
        check_int("ModelSpec", "input_size", items[0], minimum=8),
        check_int("ModelSpec", "input_size", items[1], minimum=8),
    )


def _float_triple(name: str, value: Any, *, positive: bool) -> tuple[float, float, float]:
    items = tuple(value) if isinstance(value, list | tuple) else (value,)
    ok = len(items) == 3 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and (v > 0 or not positive)
        for v in items
    )
    if not ok:
        kind = "positive numbers" if positive else "numbers"
        raise ValueError(
            f"The {name!r} parameter of ModelSpec must be 3 {kind} (one per RGB channel); "
            f"got {value!r}."
        )
    return tuple(float(v) for v in items)  # type: ignore[return-value]
