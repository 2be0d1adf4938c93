"""The Face Dictionary of Hierarchical Network Dissection: concepts in three levels.

- **parts**: regions of an aligned label map (``masks/`` + ``parts.json``); a part may group
  several labels (``eyes`` = ``left_eye`` + ``right_eye``);
- **local attributes**: a binary property of one part (``nose_width=high``); its spatial mask is
  the part's mask on the images that have it and empty elsewhere;
- **global concepts**: a binary image label with no location (``gender=female``).

Label columns become binary concepts: a numeric column with more than three distinct values is
split at its terciles into ``<column>=low`` (lowest third) and ``<column>=high`` (highest third);
any other column gives one concept per value, ``<column>=<value>``. Pure numpy (no torch use).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from modelsvc.images import read_metadata
from modelsvc.validation import check_int

LEVELS = ("part", "local", "global")
DEFAULT_MIN_POSITIVES = 4


@dataclass(frozen=True, eq=False)
class FaceDictionary:
    """Concepts over `names` images: label maps (N, H, W), parts, local and global concepts.

    ``parts[p]`` lists the label values of part `p`; ``local[a] = (part, positives)`` and
    ``global_[g] = positives`` hold boolean (N,) vectors of which images show the concept.
    """

    names: tuple[str, ...]
    label_maps: np.ndarray
    parts: dict[str, tuple[int, ...]]
    local: dict[str, tuple[str, np.ndarray]]
    global_: dict[str, np.ndarray]

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(self.parts)

    @property
    def mask_size(self) -> tuple[int, int]:
        return self.label_maps.shape[1], self.label_maps.shape[2]

    def part_masks(self, index: slice | np.ndarray) -> np.ndarray:
        """Boolean masks (B, P, H, W) of every part for the images selected by `index`."""
        maps = self.label_maps[index]
        return np.stack([np.isin(maps, labels) for labels in self.parts.values()], axis=1)

    def concepts(self) -> list[tuple[str, str, str | None]]:
        """Every concept as (level, name, part) in dictionary order."""
        return (
            [("part", name, name) for name in self.parts]
            + [("local", name, part) for name, (part, _) in self.local.items()]
            + [("global", name, None) for name in self.global_]
        )


def build_dictionary(
    *,
    names: Sequence[str],
    label_maps: Sequence[np.ndarray] | np.ndarray,
    part_names: Sequence[str],
    part_groups: Mapping[str, Sequence[str]] | None = None,
    local_columns: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
    global_columns: Mapping[str, Sequence[Any]] | None = None,
    min_positives: int = DEFAULT_MIN_POSITIVES,
) -> FaceDictionary:
    """Build and validate a dictionary from arrays.

    `label_maps` index `part_names` (one (H, W) map per image, all the same size);
    `part_groups` maps a part concept to the label names it covers (default: every label but
    ``background`` is its own part); `local_columns` maps a column to (part concept, values per
    image); `global_columns` maps a column to its values per image. Every concept needs at
    least `min_positives` positive images and at least as many negative ones.
    """
    owner = "build_dictionary"
    min_positives = check_int(owner, "min_positives", min_positives, minimum=1)
    names = tuple(str(n) for n in names)
    maps = _stack_maps(owner, label_maps, len(names))
    part_names = tuple(part_names)
    if maps.size and int(maps.max()) >= len(part_names):
        raise ValueError(
            f"The 'label_maps' parameter of {owner} must index 'part_names' (labels 0.."
            f"{len(part_names) - 1}); got a label {int(maps.max())}."
        )
    groups = part_groups or {p: (p,) for p in part_names if p != "background"}
    parts: dict[str, tuple[int, ...]] = {}
    for part, members in groups.items():
        unknown = [m for m in members if m not in part_names]
        if unknown or not members:
            raise ValueError(
                f"The 'part_groups' parameter of {owner} must group names of 'part_names' "
                f"{list(part_names)}; got {part!r}: {list(members)}."
            )
        parts[part] = tuple(part_names.index(m) for m in members)
        present = int(np.isin(maps, parts[part]).any(axis=(1, 2)).sum())
        _check_count(owner, "part_groups", part, present, None, min_positives)
    local: dict[str, tuple[str, np.ndarray]] = {}
    for column, (part, values) in (local_columns or {}).items():
        if part not in parts:
            raise ValueError(
                f"The 'local_columns' parameter of {owner} must tie each column to a part of "
                f"{list(parts)}; got {column!r} -> {part!r}."
            )
        for concept, positives in binary_concepts(owner, "local_columns", column, values, names):
            _check_count(
                owner, "local_columns", concept, int(positives.sum()), len(names), min_positives
            )
            local[concept] = (part, positives)
    global_: dict[str, np.ndarray] = {}
    for column, values in (global_columns or {}).items():
        for concept, positives in binary_concepts(owner, "global_columns", column, values, names):
            _check_count(
                owner, "global_columns", concept, int(positives.sum()), len(names), min_positives
            )
            global_[concept] = positives
    return FaceDictionary(names, maps, parts, local, global_)


def binary_concepts(
    owner: str, parameter: str, column: str, values: Sequence[Any], names: Sequence[str]
) -> list[tuple[str, np.ndarray]]:
    """The binary concepts (name, positives (N,)) of one label column (see module docstring)."""
    values = list(values)
    if len(values) != len(names):
        raise ValueError(
            f"The {parameter!r} parameter of {owner} must give one value per image for "
            f"{column!r} ({len(names)}); got {len(values)}."
        )
    distinct = sorted({str(v) for v in values})
    if len(distinct) < 2:
        raise ValueError(
            f"The {parameter!r} parameter of {owner} must give non-constant labels; got "
            f"{column!r} equal to {distinct[0] if distinct else None!r} on every image."
        )
    numbers = _as_numbers(values)
    if numbers is not None and len(distinct) > 3:
        low, high = np.quantile(numbers, [1 / 3, 2 / 3])
        return [(f"{column}=low", numbers <= low), (f"{column}=high", numbers >= high)]
    text = np.array([str(v) for v in values])
    return [(f"{column}={value}", text == value) for value in distinct]


def dictionary_from_directory(
    root: str | Path,
    *,
    local_columns: Mapping[str, str] | None = None,
    global_columns: Sequence[str] = (),
    part_groups: Mapping[str, Sequence[str]] | None = None,
    min_positives: int = DEFAULT_MIN_POSITIVES,
) -> FaceDictionary:
    """A dictionary from an uploaded set: ``metadata.csv``, ``masks/<stem>.png``, ``parts.json``.

    `local_columns` declares metadata columns as local attributes of a part (column -> part);
    `global_columns` lists the columns that are global concepts.
    """
    owner = "dictionary_from_directory"
    root = Path(root)
    try:
        part_names = json.loads((root / "parts.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"Cannot read the part names {str(root / 'parts.json')!r}: {exc}") from exc
    items = read_metadata(root / "metadata.csv", root / "images")
    declared = [*(local_columns or {}), *global_columns]
    missing = [c for c in declared if items and c not in items[0].labels]
    if missing:
        raise ValueError(
            f"The columns of {owner} must be columns of metadata.csv "
            f"{sorted(items[0].labels)}; got {missing}."
        )
    maps = [_read_mask(root / "masks" / f"{Path(item.key).stem}.png") for item in items]
    return build_dictionary(
        names=[item.key for item in items],
        label_maps=maps,
        part_names=part_names,
        part_groups=part_groups,
        local_columns={
            column: (part, [item.labels[column] for item in items])
            for column, part in (local_columns or {}).items()
        },
        global_columns={c: [item.labels[c] for item in items] for c in global_columns},
        min_positives=min_positives,
    )


def _read_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"))
    except OSError as exc:
        raise ValueError(f"Cannot read the part mask {str(path)!r}: {exc}") from exc


def _stack_maps(owner: str, label_maps: Any, n_images: int) -> np.ndarray:
    maps = [np.asarray(m) for m in label_maps]
    if len(maps) != n_images or n_images == 0:
        raise ValueError(
            f"The 'label_maps' parameter of {owner} must hold one map per image "
            f"({n_images}, at least one); got {len(maps)}."
        )
    shapes = sorted({m.shape for m in maps})
    if len(shapes) != 1 or len(shapes[0]) != 2:
        raise ValueError(
            f"The 'label_maps' parameter of {owner} must hold 2-D maps of one size; "
            f"got sizes {shapes[:5]}."
        )
    if not all(np.issubdtype(m.dtype, np.integer) for m in maps):
        raise ValueError(f"The 'label_maps' parameter of {owner} must hold integer label maps.")
    return np.stack(maps).astype(np.uint8 if max(int(m.max()) for m in maps) < 256 else np.int32)


def _check_count(
    owner: str, parameter: str, concept: str, positives: int, total: int | None, minimum: int
) -> None:
    """At least `minimum` positive images (and negative ones unless `total` is None)."""
    if total is None and positives < minimum:
        raise ValueError(
            f"The {parameter!r} parameter of {owner} must give every part at least {minimum} "
            f"images showing it; got {concept!r} on {positives}."
        )
    if total is not None and (positives < minimum or total - positives < minimum):
        raise ValueError(
            f"The {parameter!r} parameter of {owner} must give every concept at least "
            f"{minimum} positive and {minimum} negative images; got {concept!r} on "
            f"{positives} of {total}."
        )


def _as_numbers(values: list[Any]) -> np.ndarray | None:
    try:
        numbers = np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None
    if any(isinstance(v, bool) for v in values) or not np.isfinite(numbers).all():
        return None
    return numbers
