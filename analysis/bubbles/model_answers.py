"""Models' classification images from the participants' own Bubbles trials.

A model answers every trial a participant saw (same image, seed and count; see
``modelsvc.bubbles``), so its answers form one accumulator per participant whose trials it
took, exactly like the participant's (`analysis.bubbles.participant_accumulators` on the model's
answer table).  From them: the model's classification image per stimulus group, its accuracy
on the trials, and its *faithfulness*: the agreement of the model's classification image with
its own relevance map of the same images (e.g. the group's mean LRP map), with a bootstrap over
the participants' trial sets and the model map's split-half reliability as the ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.bubbles.agreement import bootstrap_agreement
from analysis.bubbles.classification_image import ClassificationImageAccumulator

MIN_EACH = 10  # correct and incorrect answers a model needs for a map with intervals
AGREEMENT_COLUMNS = ["group", "model", "statistic", "estimate", "ci_low", "ci_high", "ceiling"]
ACCURACY_COLUMNS = ["model", "group", "trials", "accuracy", "note"]


@dataclass(frozen=True)
class ModelBubbles:
    """Per model and group: the z map, the accuracy and the agreement with its relevance."""

    z_maps: dict[str, dict[str, np.ndarray]]  # {model: {group: z map}}
    accuracy: pd.DataFrame  # model, group, trials, accuracy, note
    faithfulness: pd.DataFrame  # AGREEMENT_COLUMNS (ceiling: the model map's split-half)


def model_bubbles(
    model_accumulators: Mapping[str, Mapping[str, Mapping[str, ClassificationImageAccumulator]]],
    *,
    relevance_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    top_fraction: float = 0.1,
    n_boot: int = 200,
    random_state=None,
) -> ModelBubbles:
    """`model_accumulators` is {model: {group: {participant: accumulator}}}; `relevance_maps`
    {model: {group: map}} at the design's size.  A group where the model gave fewer than
    `MIN_EACH` correct or incorrect answers has no classification image (a resample could
    have none of them): its accuracy row says so."""
    rng = np.random.default_rng(random_state)
    z_maps: dict[str, dict[str, np.ndarray]] = {}
    accuracy, faithfulness = [], []
    for model, groups in model_accumulators.items():
        for group, participants in groups.items():
            sets = list(participants.values())
            pooled = ClassificationImageAccumulator.combine(sets)
            trials, right = pooled.n_trials, pooled.n_correct
            note = ""
            if min(right, trials - right) < MIN_EACH:
                note = f"fewer than {MIN_EACH} correct or incorrect answers: no map"
            accuracy.append(
                {
                    "model": model,
                    "group": group,
                    "trials": trials,
                    "accuracy": right / trials if trials else float("nan"),
                    "note": note,
                }
            )
            if note:
                continue
            z_maps.setdefault(model, {})[group] = pooled.image().z
            own = (relevance_maps or {}).get(model, {}).get(group)
            if own is None or len(sets) < 2:
                continue
            found = bootstrap_agreement(
                sets, own, top_fraction=top_fraction, n_boot=n_boot, random_state=rng
            )
            for statistic in ("spearman", "top_iou"):
                faithfulness.append(
                    {"group": group, "model": model, "statistic": statistic}
                    | found[statistic]
                    | {"ceiling": found["ceiling"]}
                )
    return ModelBubbles(
        z_maps=z_maps,
        accuracy=pd.DataFrame(accuracy, columns=ACCURACY_COLUMNS),
        faithfulness=pd.DataFrame(faithfulness, columns=AGREEMENT_COLUMNS),
    )


def with_skipped(result: ModelBubbles | None, skipped: Mapping[str, str]) -> ModelBubbles | None:
    """`result` with an accuracy row (no trials, no map) for each model that could not take the
    test, its note saying why."""
    if not skipped:
        return result
    rows = pd.DataFrame(
        [
            {"model": model, "group": "", "trials": 0, "accuracy": float("nan"), "note": why}
            for model, why in skipped.items()
        ],
        columns=ACCURACY_COLUMNS,
    )
    if result is None:
        return ModelBubbles({}, rows, pd.DataFrame(columns=AGREEMENT_COLUMNS))
    return replace(result, accuracy=pd.concat([result.accuracy, rows], ignore_index=True))
