"""Deterministic labelled face datasets, in memory (`make_dataset`) or on disk (`write_dataset`)."""

from __future__ import annotations

import csv
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facegen._validation import check_int, check_real, fail
from facegen.params import FaceParams, ViewParams
from facegen.render import MAX_SIZE, MIN_SIZE, PART_NAMES, render_face
from facegen.sampling import GENDERS, MAX_VIEW_VARIATION, sample_identity, sample_view

METADATA_COLUMNS = ("filename", "identity", "gender", "glasses")


@dataclass(frozen=True, eq=False)
class FaceSample:
    """One rendered image with its labels (identity, gender, glasses) and generating parameters."""

    name: str
    image: Image.Image
    parts: np.ndarray
    labels: dict[str, str]
    params: FaceParams
    view: ViewParams


def make_dataset(
    n_identities: int = 12,
    images_per_identity: int = 4,
    size: int = 128,
    seed: int = 0,
    glasses_rate: float | Mapping[str, float] = 0.3,
    view_variation: float = 1.0,
) -> list[FaceSample]:
    """Render `n_identities` faces, each in `images_per_identity` random views.

    Genders alternate in a seeded random order with equal counts (one more "female" when
    `n_identities` is odd). Within each gender, ``round(glasses_rate * group size)`` identities
    wear glasses, so glasses are not confounded with gender. A mapping gender -> rate plants a
    correlation instead (``{"female": 0.9, "male": 0.1}``: the bias experiment of Hierarchical
    Network Dissection); only which identities wear glasses changes, so a biased set and its
    balanced control of the same seed share every other parameter. Identities are named ``id00``,
    ``id01``, ... and images ``id03_v2``. Random streams come from ``SeedSequence(seed)`` with
    spawn keys per identity and per view, so identity `i` of a seed does not depend on how many
    views are drawn.
    """
    check_int("make_dataset", "n_identities", n_identities, minimum=2, maximum=10_000)
    check_int("make_dataset", "images_per_identity", images_per_identity, minimum=1, maximum=10_000)
    check_int("make_dataset", "size", size, minimum=MIN_SIZE, maximum=MAX_SIZE)
    check_int("make_dataset", "seed", seed, minimum=0, maximum=2**63 - 1)
    rates = _glasses_rates(glasses_rate)
    check_real("make_dataset", "view_variation", view_variation, low=0.0, high=MAX_VIEW_VARIATION)

    plan_rng = _rng(seed, 0)
    n_female = n_identities - n_identities // 2
    genders = plan_rng.permutation(
        [GENDERS[0]] * n_female + [GENDERS[1]] * (n_identities - n_female)
    )
    glasses = np.zeros(n_identities, bool)
    for gender in GENDERS:
        members = np.flatnonzero(genders == gender)
        glasses[plan_rng.choice(members, round(rates[gender] * len(members)), replace=False)] = True

    width = max(2, len(str(n_identities - 1)))
    samples = []
    for index in range(n_identities):
        identity = f"id{index:0{width}d}"
        gender = str(genders[index])
        params = sample_identity(_rng(seed, 1, index), gender, glasses=bool(glasses[index]))
        labels = {
            "identity": identity,
            "gender": gender,
            "glasses": "yes" if glasses[index] else "no",
        }
        for view_index in range(images_per_identity):
            view = sample_view(_rng(seed, 2, index, view_index), view_variation)
            face = render_face(params, view, size)
            samples.append(
                FaceSample(
                    f"{identity}_v{view_index}", face.image, face.parts, dict(labels), params, view
                )
            )
    return samples


def write_dataset(directory: str | Path, **make_dataset_kwargs: Any) -> Path:
    """Write a `make_dataset` dataset into `directory` (which must be empty or not exist).

    Layout: ``images/<name>.png`` (RGB), ``masks/<name>.png`` (8-bit label map indexing
    ``parts.json``), ``metadata.csv`` (``filename,identity,gender,glasses``; filename is
    ``<name>.png``), ``parts.json`` (part names in label order) and ``params.json`` (the
    generator settings and each image's face and view parameters). Returns the directory.
    """
    root = Path(directory)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(
            "The 'directory' parameter of write_dataset must be an empty or new directory; "
            f"got {str(root)!r}."
        )
    samples = make_dataset(**make_dataset_kwargs)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for sample in samples:
        sample.image.save(root / "images" / f"{sample.name}.png", format="PNG")
        Image.fromarray(sample.parts, "L").save(root / "masks" / f"{sample.name}.png", format="PNG")
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METADATA_COLUMNS)
        for sample in samples:
            writer.writerow(
                [f"{sample.name}.png", *(sample.labels[c] for c in METADATA_COLUMNS[1:])]
            )
    (root / "parts.json").write_text(
        json.dumps(list(PART_NAMES), indent=2) + "\n", encoding="utf-8"
    )
    params = {
        "settings": _effective_settings(make_dataset_kwargs),
        "images": {
            f"{s.name}.png": {"face": s.params.to_dict(), "view": s.view.to_dict()} for s in samples
        },
    }
    (root / "params.json").write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return root


def _effective_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """All `make_dataset` arguments, defaults included, for the provenance record."""
    bound = inspect.signature(make_dataset).bind(**kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _glasses_rates(glasses_rate: float | Mapping[str, float]) -> dict[str, float]:
    """The share of identities with glasses per gender (one number: the same for both)."""
    if not isinstance(glasses_rate, Mapping):
        rate = check_real("make_dataset", "glasses_rate", glasses_rate, low=0.0, high=1.0)
        return dict.fromkeys(GENDERS, rate)
    if set(glasses_rate) != set(GENDERS):
        raise fail(
            "make_dataset", "glasses_rate", f"a number or a mapping of {GENDERS}", glasses_rate
        )
    return {
        gender: check_real("make_dataset", f"glasses_rate[{gender}]", rate, low=0.0, high=1.0)
        for gender, rate in glasses_rate.items()
    }


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
