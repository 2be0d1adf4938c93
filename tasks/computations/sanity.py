"""Relevance sanity checks of a study's models, for its report (``modelsvc.sanity``).

Each model with a relevance artifact is checked with that artifact's method and parameters on
the first `SANITY_IMAGES` stimuli it explained (their stored targets): the cascading
randomisation curve and the input-invariance shift.  The verdicts come from
``analysis.sanity``.
"""

import numpy as np
import pandas as pd
import torch

from analysis.sanity import SanityChecks, sanity_verdicts
from modelsvc import load_batch
from modelsvc.sanity import sanity_checks
from studyapp.models import Artifact, FaceModel
from studyapp.storage import read_arrays
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

SANITY_IMAGES = 8
SANITY_SEED = 42  # Quantus's MPRT default
SANITY_SHIFT = 0.5  # in normalised input units
SETTINGS = {"images": SANITY_IMAGES, "seed": SANITY_SEED, "shift": SANITY_SHIFT}


def model_sanity(face_model: FaceModel, relevance: Artifact) -> tuple[pd.DataFrame, dict]:
    """One model's randomisation curve and shift check with its relevance artifact's method."""
    spec = model_spec(face_model)
    arrays = read_arrays(relevance.file.name, relevance.sha256)
    ids = arrays["stimulus_ids"][:SANITY_IMAGES].tolist()
    loaded = load_batch([item.path for item in stimulus_items(ids)], spec.input_size)
    if loaded.failed:
        raise ValueError(f"Sanity checks: stimuli could not be read: {loaded.errors[:3]}")
    result = sanity_checks(
        cached_model(spec),
        spec,
        loaded.images,
        method=relevance.method,
        parameters=relevance.params.get("parameters") or None,
        targets=torch.from_numpy(arrays["targets"][: len(ids)].astype(np.int64)),
        seed=SANITY_SEED,
        shift=SANITY_SHIFT,
    )
    return result.randomisation, result.invariance


def study_sanity(artifacts: dict) -> SanityChecks | None:
    """The checks of every model of the report's inputs that has relevance maps."""
    curves, shifts = [], []
    for face_model in artifacts["models"]:
        relevance = artifacts["relevance"][face_model.pk]
        if relevance is None:
            continue
        curve, shift = model_sanity(face_model, relevance)
        keys = {"model": face_model.name, "method": relevance.method}
        curves.append(curve.assign(**keys))
        shifts.append({**keys, **shift})
    if not curves:
        return None
    return sanity_verdicts(pd.concat(curves, ignore_index=True), pd.DataFrame(shifts))
