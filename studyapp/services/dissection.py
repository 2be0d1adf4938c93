"""The Face Dictionary of a stimulus set for dissection jobs, checked before a job starts.

Two sources, as ``modelsvc.dissection``: *generated* sets (every stimulus holds facegen's face
parameters, stored at import from ``params.json``) get their concepts from
``facegen.dictionary.dictionary_columns``; the concepts that this set cannot support (fewer
than ``min_positives`` positive or negative images, constant values, a part too few faces
show) are left out and listed. *Uploaded* sets give their part masks and label columns
declared local (``local_columns``: column -> part) or global (``global_columns``), with the
semantics and errors of ``dictionary_from_directory``. The launch form builds the dictionary
to check it (``dissection_check``), so a bad one is a form error, never a failed job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from studyapp.models import Stimulus, StimulusSet

GENERATED, COLUMNS = "generated", "columns"
DEFAULTS = {
    "dictionary": None,  # generated when every stimulus has facegen parameters, else columns
    "layers": None,  # the model's layers of interest that give maps (modelsvc.dissection.layers)
    "local_columns": {},
    "global_columns": [],
    "part_groups": None,
    "top_fraction": 0.005,
    "min_positives": 4,
    "baseline_seed": 0,
    "examples": 4,  # top-activating images stored per example unit
    "units_per_concept": 3,  # example units stored per concept (its best-matching units)
}


@dataclass(frozen=True)
class SetDictionary:
    """The dictionary (``modelsvc.dissection.FaceDictionary``), the stimulus ids in its
    order, and the generated concepts left out, with why."""

    dictionary: object
    stimulus_ids: list[int]
    left_out: list[str]


def dissection_settings(*, stimulus_set: StimulusSet, params: dict) -> dict:
    """The job's parameters with defaults; the dictionary source chosen and checked."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown dissection parameters {unknown}; known: {sorted(DEFAULTS)}.")
    settings = {**DEFAULTS, **params}
    _check_values(settings)
    stimuli = stimulus_set.stimuli.all()
    generated = not stimuli.exclude(preparation__has_key="facegen").exists()
    if settings["dictionary"] is None:
        settings["dictionary"] = GENERATED if generated and stimuli.exists() else COLUMNS
    if settings["dictionary"] not in (GENERATED, COLUMNS):
        raise ValueError(
            f"'dictionary' must be {GENERATED!r} or {COLUMNS!r}; got {settings['dictionary']!r}."
        )
    if settings["dictionary"] == GENERATED and not generated:
        raise ValueError(
            "'dictionary': 'generated' needs a set of generated faces with their parameters "
            "(imported with facegen's params.json); declare 'local_columns' and "
            "'global_columns' instead."
        )
    if settings["dictionary"] == COLUMNS and not (
        isinstance(settings["local_columns"], dict) and isinstance(settings["global_columns"], list)
    ):
        raise ValueError(
            '\'local_columns\' must map label columns to parts ({"nose_shape": "nose"}) '
            "and 'global_columns' list label columns ([\"smile\"])."
        )
    if not stimulus_set.part_names or stimuli.filter(part_mask="").exists():
        raise ValueError(
            f"Stimulus set {stimulus_set.name!r} needs a part mask for every image (masks/ "
            "and parts.json) for dissection."
        )
    return settings


def _check_values(settings: dict) -> None:
    """Types and ranges of the numeric and list parameters, named when wrong."""
    layers = settings["layers"]
    if layers is not None and not (
        isinstance(layers, list) and layers and all(isinstance(x, str) for x in layers)
    ):
        raise ValueError(f"'layers' must be a list of layer names or null; got {layers!r}.")
    top = settings["top_fraction"]
    if isinstance(top, bool) or not isinstance(top, int | float) or not 0 < top < 1:
        raise ValueError(f"'top_fraction' must be a number in (0, 1); got {top!r}.")
    for name, low, high in (
        ("min_positives", 1, 10_000),
        ("examples", 1, 16),
        ("units_per_concept", 1, 16),
    ):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"'{name}' must be a whole number in [{low}, {high}]; got {value!r}.")
    seed = settings["baseline_seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"'baseline_seed' must be a whole number >= 0 or null; got {seed!r}.")


def set_dictionary(*, stimulus_set: StimulusSet, settings: dict) -> SetDictionary:
    """Build the set's dictionary (ValueError naming the concept when it cannot be built)."""
    from modelsvc.dissection.dictionary import build_dictionary  # numpy only

    stimuli = list(stimulus_set.stimuli.order_by("pk"))
    names = [s.name for s in stimuli]
    maps = [_label_map(s) for s in stimuli]
    if settings["dictionary"] == GENERATED:
        columns, left_out = _generated_columns(stimuli, maps, settings["min_positives"])
    else:
        columns, left_out = _declared_columns(stimulus_set, stimuli, settings), []
    dictionary = build_dictionary(
        names=names,
        label_maps=maps,
        min_positives=settings["min_positives"],
        **columns,
    )
    return SetDictionary(dictionary, [s.pk for s in stimuli], left_out)


def dissection_check(*, stimulus_set: StimulusSet, params: dict) -> None:
    """What the launch form runs: the settings and the dictionary build, or a ValueError."""
    settings = dissection_settings(stimulus_set=stimulus_set, params=params)
    set_dictionary(stimulus_set=stimulus_set, settings=settings)


def _label_map(stimulus: Stimulus) -> np.ndarray:
    try:
        with stimulus.part_mask.open("rb") as handle, Image.open(handle) as image:
            return np.asarray(image.convert("L"))
    except OSError as error:
        raise ValueError(f"Cannot read the part mask of {stimulus.name!r}: {error}") from error


def _declared_columns(stimulus_set: StimulusSet, stimuli: list[Stimulus], settings) -> dict:
    """``build_dictionary`` arguments of declared columns (as ``dictionary_from_directory``)."""
    local, global_ = settings["local_columns"], settings["global_columns"]
    declared = [*local, *global_]
    missing = [c for c in declared if c not in stimulus_set.label_columns]
    if missing:
        raise ValueError(
            f"The dictionary's columns must be label columns of the set "
            f"{sorted(stimulus_set.label_columns)}; got {missing}."
        )
    if not declared:
        raise ValueError(
            "Declare the set's label columns: 'local_columns' (column -> part) and/or "
            "'global_columns'."
        )
    return {
        "part_names": stimulus_set.part_names,
        "part_groups": settings["part_groups"],
        "local_columns": {
            column: (part, [s.labels.get(column) for s in stimuli])
            for column, part in local.items()
        },
        "global_columns": {c: [s.labels.get(c) for s in stimuli] for c in global_},
    }


def _generated_columns(stimuli: list[Stimulus], maps, minimum: int) -> tuple[dict, list[str]]:
    """``dictionary_columns`` of the generated faces, without the concepts the set cannot
    support (returned, with the reason, as the second value)."""
    from facegen.dataset import FaceSample
    from facegen.dictionary import dictionary_columns
    from facegen.params import FaceParams

    samples = [
        FaceSample(
            name=s.name,
            image=None,
            parts=label_map,
            labels=s.labels,
            params=FaceParams(**s.preparation["facegen"]["face"]),
            view=None,
        )
        for s, label_map in zip(stimuli, maps, strict=True)
    ]
    labels = [c for c in ("gender", "glasses") if all(c in s.labels for s in stimuli)]
    columns = dictionary_columns(samples, labels=labels)
    names = [s.name for s in stimuli]
    left_out = []
    stacked = np.stack(maps)
    for part, members in list(columns["part_groups"].items()):
        codes = [columns["part_names"].index(m) for m in members]
        shown = int(np.isin(stacked, codes).any(axis=(1, 2)).sum())
        if shown < minimum:
            del columns["part_groups"][part]
            left_out.append(f"part {part} ({shown} images show it)")
    for kind in ("local_columns", "global_columns"):
        for column, value in list(columns[kind].items()):
            part = value[0] if kind == "local_columns" else None
            values = value[1] if kind == "local_columns" else value
            reason = _unusable(column, values, names, minimum)
            if part is not None and part not in columns["part_groups"]:
                reason = f"its part {part} is left out"
            if reason:
                del columns[kind][column]
                left_out.append(f"{column} ({reason})")
    return columns, left_out


def _unusable(column: str, values, names: list[str], minimum: int) -> str:
    """Why a generated column cannot be a concept here ('' when it can)."""
    from modelsvc.dissection.dictionary import binary_concepts

    try:
        concepts = binary_concepts("dissection", "columns", column, values, names)
    except ValueError:
        return "the same on every image"
    for concept, positives in concepts:
        count = int(positives.sum())
        if count < minimum or len(names) - count < minimum:
            return f"{concept} on {count} of {len(names)} images"
    return ""
