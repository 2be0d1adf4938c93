"""Deterministic labelled object datasets: in memory (`make_dataset`), on disk (`write_dataset`)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facegen._validation import check_int, check_real
from objectgen.classes import CLASSES
from objectgen.render import MAX_SIZE, MAX_VIEW_VARIATION, MIN_SIZE, ObjectView, render_object
from objectgen.render import sample_view as _sample_view

METADATA_COLUMNS = ("filename", "category", "shape", "texture")


@dataclass(frozen=True, eq=False)
class ObjectSample:
    """One rendered image with its labels (category, shape, texture) and view."""

    name: str
    image: Image.Image
    labels: dict[str, str]
    view: ObjectView


def make_dataset(
    images_per_class: int = 8,
    size: int = 128,
    seed: int = 0,
    n_classes: int = len(CLASSES),
    view_variation: float = 1.0,
) -> list[ObjectSample]:
    """`images_per_class` random views of each of the first `n_classes` classes.

    Images are named ``<shape>-<texture>_v<k>``; the view of image k of class c comes from
    ``SeedSequence(seed, spawn_key=(c, k))``, so it does not depend on how many are drawn.
    """
    check_int("make_dataset", "images_per_class", images_per_class, minimum=1, maximum=10_000)
    check_int("make_dataset", "size", size, minimum=MIN_SIZE, maximum=MAX_SIZE)
    check_int("make_dataset", "seed", seed, minimum=0, maximum=2**63 - 1)
    check_int("make_dataset", "n_classes", n_classes, minimum=2, maximum=len(CLASSES))
    check_real("make_dataset", "view_variation", view_variation, low=0.0, high=MAX_VIEW_VARIATION)
    samples = []
    for index, object_class in enumerate(CLASSES[:n_classes]):
        labels = {
            "category": object_class.name,
            "shape": object_class.shape,
            "texture": object_class.texture,
        }
        for k in range(images_per_class):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, k)))
            view = _sample_view(rng, view_variation)
            image = render_object(object_class, view, size)
            samples.append(ObjectSample(f"{object_class.name}_v{k}", image, dict(labels), view))
    return samples


def write_dataset(directory: str | Path, **make_dataset_kwargs) -> Path:
    """Write a `make_dataset` dataset into `directory` (which must be empty or not exist).

    Layout: ``images/<name>.png`` (RGB), ``metadata.csv`` (``filename,category,shape,texture``)
    and ``params.json`` (the generator settings and each image's view). Returns the directory.
    """
    root = Path(directory)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(
            "The 'directory' parameter of write_dataset must be an empty or new directory; "
            f"got {str(root)!r}."
        )
    samples = make_dataset(**make_dataset_kwargs)
    (root / "images").mkdir(parents=True)
    for sample in samples:
        sample.image.save(root / "images" / f"{sample.name}.png", format="PNG")
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METADATA_COLUMNS)
        for sample in samples:
            writer.writerow(
                [f"{sample.name}.png", *(sample.labels[c] for c in METADATA_COLUMNS[1:])]
            )
    params = {
        "settings": make_dataset_kwargs,
        "images": {f"{s.name}.png": s.view.to_dict() for s in samples},
    }
    (root / "params.json").write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return root
