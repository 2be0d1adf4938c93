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
from analysis.bubbles.agreement import bootstrap_agreements
from analysis.bubbles.classification_image import (
    ClassificationImage,
    ClassificationImageAccumulator,
    split_half_reliability,
)
from analysis.bubbles.masks import BubblesDesign
from analysis.bubbles.model_answers import ModelBubbles
from analysis.bubbles.parts import PartPresence, part_shares
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
    participant-bootstrap interval and the group map's split-half ceiling; `parts` (when part
    presence maps were given): per group, test and part, the part's share of the significant
    pixels and of the image area (`analysis.bubbles.parts.part_shares`); `models`: the models'
    own answers to the same trials (`analysis.bubbles.model_answers.model_bubbles`).
    """

    images: dict[str, ClassificationImage]
    significant: dict[tuple[str, str], np.ndarray]
    regions: pd.DataFrame
    agreement: pd.DataFrame
    parts: pd.DataFrame | None = None
    models: ModelBubbles | None = None


def decision_weighting(
    accumulators: Accumulators,
    *,
    model_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    model_images: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    part_presence: Mapping[str, PartPresence] | None = None,
    threshold: float = 2.7,
    alpha: float = 0.05,
    top_fraction: float = 0.1,
    n_boot: int = 200,
    random_state=None,
) -> DecisionWeighting:
    """Maps, tests and agreement per group; `model_maps` (e.g. relevance) and `model_images`
    (the models' own classification images, `model_bubbles`) are {model: {group: map}}, told
    apart by the agreement table's ``map`` column ("relevance", "bubbles"); `part_presence` is
    {group: {part: presence map}} (`group_part_presence`)."""
    rng = np.random.default_rng(random_state)
    images, significant, regions, agreement, parts = {}, {}, [], [], []
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
            if part_presence is not None and group in part_presence:
                shares = part_shares(result.significant, part_presence[group])
                parts.append(shares.assign(group=group, test=test))
        compared = {
            (kind, model): maps[group]
            for kind, models in (("relevance", model_maps or {}), ("bubbles", model_images or {}))
            for model, maps in models.items()
            if group in maps
        }
        if compared and len(people) >= 2:
            found = bootstrap_agreements(
                people, compared, top_fraction=top_fraction, n_boot=n_boot, random_state=rng
            )
            for (kind, model), result in found.items():
                for statistic in ("spearman", "top_iou"):
                    agreement.append(
                        {"group": group, "model": model, "map": kind, "statistic": statistic}
                        | result[statistic]
                        | {"ceiling": result["ceiling"]}
                    )
    return DecisionWeighting(
        images=images,
        significant=significant,
        regions=pd.DataFrame(regions),
        agreement=pd.DataFrame(
            agreement,
            columns=[
                "group",
                "model",
                "map",
                "statistic",
                "estimate",
                "ci_low",
                "ci_high",
                "ceiling",
            ],
        ),
        parts=_first_columns(pd.concat(parts), ["group", "test"]) if parts else None,
    )


def _first_columns(table: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)
