"""Classification images from the platform's responses: per participant, per stimulus group.

`participant_accumulators` streams each participant's Bubbles trials of the long export (read by
`analysis.io.read_responses`: ``item_1``, ``correct``, ``bubbles_seed``, ``bubbles_count``,
``bubbles_sigma``) into one accumulator per stimulus group and participant; the masks are
redrawn from (seed, count), never stored.  `decision_weighting` turns them into the group maps,
their pixel- and cluster-test regions, the split-half ceiling and, given model maps of the same
images, each map's agreement with the group map (participant bootstrap).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import fail
from analysis.bubbles.agreement import bootstrap_agreement
from analysis.bubbles.classification_image import (
    ClassificationImage,
    ClassificationImageAccumulator,
    split_half_reliability,
)
from analysis.bubbles.masks import BubblesDesign
from analysis.bubbles.significance import cluster_test, pixel_test

COLUMNS = ("participant", "trial_type", "role", "item_1", "correct")
BUBBLES_COLUMNS = ("bubbles_seed", "bubbles_count", "bubbles_sigma")
ALL = "all"

Accumulators = dict[str, dict[str, ClassificationImageAccumulator]]


def participant_accumulators(
    responses: pd.DataFrame,
    design: BubblesDesign,
    *,
    groups: Mapping[str, str] | None = None,
    roles: tuple[str, ...] = ("main",),
) -> Accumulators:
    """{group: {participant: accumulator}} over the Bubbles trials of `roles`.

    `groups` maps stimulus names (``item_1``) to a group; without it every trial is in group
    "all", and stimuli it does not name are left out.  The trials' sigma must be the design's.
    """
    missing = [c for c in (*COLUMNS, *BUBBLES_COLUMNS) if c not in responses.columns]
    if missing:
        raise fail("participant_accumulators", "responses", "the Bubbles columns", missing)
    trials = responses[(responses["trial_type"] == "bubbles") & responses["role"].isin(roles)]
    sigmas = trials["bubbles_sigma"].astype(float)
    if not np.allclose(sigmas, design.sigma):
        raise fail(
            "participant_accumulators", "design", f"sigma {sorted(set(sigmas))}", design.sigma
        )
    group = (
        pd.Series(ALL, index=trials.index) if groups is None else trials["item_1"].map(dict(groups))
    )
    result: Accumulators = {}
    for (name, participant), rows in trials.groupby([group, trials["participant"]], sort=True):
        accumulator = ClassificationImageAccumulator(design).add_trials(
            rows["bubbles_seed"].astype(np.int64).to_numpy(),
            rows["bubbles_count"].astype(np.int64).to_numpy(),
            rows["correct"].astype(bool).to_numpy(),
        )
        result.setdefault(name, {})[participant] = accumulator
    return result


@dataclass(frozen=True)
class DecisionWeighting:
    """Group classification images, their significant regions, ceilings and model agreement.

    `regions`: one row per group and test (pixel, cluster) with the significant pixels and
    regions; `agreement`: one row per group, model and statistic (spearman, top_iou) with its
    participant-bootstrap interval and the group map's split-half ceiling.
    """

    images: dict[str, ClassificationImage]
    significant: dict[tuple[str, str], np.ndarray]
    regions: pd.DataFrame
    agreement: pd.DataFrame


def decision_weighting(
    accumulators: Accumulators,
    *,
    model_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    threshold: float = 2.7,
    alpha: float = 0.05,
    top_fraction: float = 0.1,
    n_boot: int = 200,
    random_state=None,
) -> DecisionWeighting:
    """Maps, tests and agreement per group; `model_maps` is {model: {group: map}}."""
    rng = np.random.default_rng(random_state)
    images, significant, regions, agreement = {}, {}, [], []
    for group, participants in accumulators.items():
        people = list(participants.values())
        image = ClassificationImageAccumulator.combine(people).image()
        images[group] = image
        ceiling = (
            split_half_reliability(people, random_state=rng)["reliability"]
            if len(people) >= 2
            else float("nan")
        )
        tests = {
            "pixel": pixel_test(image.z, image.fwhm, alpha=alpha),
            "cluster": cluster_test(image.z, image.fwhm, threshold=threshold, alpha=alpha),
        }
        for test, result in tests.items():
            significant[group, test] = result.significant
            regions.append(
                {
                    "group": group,
                    "test": test,
                    "participants": len(people),
                    "trials": sum(p.n_trials for p in people),
                    "significant_pixels": int(result.significant.sum()),
                    "regions": len(result.clusters),
                    "ceiling": ceiling,
                }
            )
        for model, maps in (model_maps or {}).items():
            if group not in maps or len(people) < 2:
                continue
            found = bootstrap_agreement(
                people, maps[group], top_fraction=top_fraction, n_boot=n_boot, random_state=rng
            )
            for statistic in ("spearman", "top_iou"):
                agreement.append(
                    {"group": group, "model": model, "statistic": statistic}
                    | found[statistic]
                    | {"ceiling": found["ceiling"]}
                )
    return DecisionWeighting(
        images=images,
        significant=significant,
        regions=pd.DataFrame(regions),
        agreement=pd.DataFrame(
            agreement,
            columns=["group", "model", "statistic", "estimate", "ci_low", "ci_high", "ceiling"],
        ),
    )
