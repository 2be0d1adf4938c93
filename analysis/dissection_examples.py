"""Which units and images a dissection report shows for each concept (pure numpy).

Per concept, the units that match it best: spatial concepts (parts, local attributes) by IoU
(``analysis.dissection.part_iou`` / ``attribute_iou``), global concepts by AUC of the mean
activation. Per unit, its top-activating images for that concept: the images with the most
thresholded pixels inside the concept's mask (spatial concepts; for a local attribute only
images that have it), or the positive images with the highest mean activation (global).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis._checks import check_int
from analysis.dissection import attribute_iou, global_auc, part_iou


def top_units(
    counts: Any, dictionary: Any, *, units_per_concept: int = 1, images_per_unit: int = 4
) -> pd.DataFrame:
    """One row per (concept, unit): level, concept, unit, score (IoU or AUC), images (rows
    of the counts, best first)."""
    owner = "top_units"
    units_per_concept = check_int(owner, "units_per_concept", units_per_concept, minimum=1)
    images_per_unit = check_int(owner, "images_per_unit", images_per_unit, minimum=1)
    rows = []
    ious = part_iou(counts)
    for index, part in enumerate(dictionary.part_names):
        inside = counts.intersection[:, :, index]
        rows += _rows("part", part, ious[:, index], inside, units_per_concept, images_per_unit)
    for concept, (part, positives) in dictionary.local.items():
        index = dictionary.part_names.index(part)
        scores = attribute_iou(counts, index, positives)
        inside = counts.intersection[:, :, index] * np.asarray(positives, bool)[:, None]
        rows += _rows("local", concept, scores, inside, units_per_concept, images_per_unit)
    for concept, positives in dictionary.global_.items():
        scores = global_auc(counts.response, positives)
        shown = np.where(np.asarray(positives, bool)[:, None], counts.response, -np.inf)
        rows += _rows("global", concept, scores, shown, units_per_concept, images_per_unit)
    return pd.DataFrame(rows, columns=["level", "concept", "unit", "score", "images"])


def _rows(level, concept, scores, image_scores, n_units, n_images) -> list[tuple]:
    """The `n_units` best units by score, each with its `n_images` best images."""
    best = np.argsort(-scores, kind="stable")[:n_units]
    return [
        (
            level,
            concept,
            int(unit),
            float(scores[unit]),
            np.argsort(-image_scores[:, unit], kind="stable")[:n_images].tolist(),
        )
        for unit in best
    ]
