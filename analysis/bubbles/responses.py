"""Classification images from the platform's responses: per participant, per stimulus group.

`participant_accumulators` streams each participant's Bubbles trials of the long export (read by
`analysis.io.read_responses`: ``item_1``, ``correct``, ``bubbles_seed``, ``bubbles_count``,
``bubbles_sigma``) into one accumulator per stimulus group and participant; the masks are
redrawn from (seed, count), never stored.  `with_pooled` adds the group "all" (every group's
trials), and `decision_weighting` turns them into the group maps, their pixel- and cluster-test
regions, the split-half ceiling and, given model maps of the same images, each map's agreement
with the group map (participant bootstrap).  `stimulus_maps` gives each stimulus's map over all
participants, with its cluster test.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import fail
from analysis.bubbles.agreement import bootstrap_agreements, map_agreement
from analysis.bubbles.classification_image import (
    ClassificationImage,
    ClassificationImageAccumulator,
    split_half_reliability,
)
from analysis.bubbles.masks import BubblesDesign
from analysis.bubbles.model_answers import ModelBubbles
from analysis.bubbles.parts import PartPresence, part_shares
from analysis.bubbles.significance import SignificantRegions, cluster_test, pixel_test
from analysis.inference import bootstrap_indices

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
    trials = _bubbles_rows(responses, design, roles, "participant_accumulators")
    group = (
        pd.Series(ALL, index=trials.index) if groups is None else trials["item_1"].map(dict(groups))
    )
    result: Accumulators = {}
    for (name, participant), rows in trials.groupby([group, trials["participant"]], sort=True):
        result.setdefault(name, {})[participant] = _accumulated(rows, design)
    return result


def _bubbles_rows(
    responses: pd.DataFrame, design: BubblesDesign, roles: tuple[str, ...], func: str
) -> pd.DataFrame:
    """The Bubbles trials of `roles`, checked to have their columns and the design's sigma."""
    missing = [c for c in (*COLUMNS, *BUBBLES_COLUMNS) if c not in responses.columns]
    if missing:
        raise fail(func, "responses", "the Bubbles columns", missing)
    trials = responses[(responses["trial_type"] == "bubbles") & responses["role"].isin(roles)]
    sigmas = trials["bubbles_sigma"].astype(float)
    if not np.allclose(sigmas, design.sigma):
        raise fail(func, "design", f"sigma {sorted(set(sigmas))}", design.sigma)
    return trials


def _accumulated(rows: pd.DataFrame, design: BubblesDesign) -> ClassificationImageAccumulator:
    return ClassificationImageAccumulator(design).add_trials(
        rows["bubbles_seed"].astype(np.int64).to_numpy(),
        rows["bubbles_count"].astype(np.int64).to_numpy(),
        rows["correct"].astype(bool).to_numpy(),
    )


def with_pooled(accumulators: Accumulators) -> Accumulators:
    """The groups and, when there are several, "all": each participant's trials of every
    group added up."""
    if len(accumulators) < 2 or ALL in accumulators:
        return dict(accumulators)
    people: dict[str, list[ClassificationImageAccumulator]] = {}
    for participants in accumulators.values():
        for participant, accumulator in participants.items():
            people.setdefault(participant, []).append(accumulator)
    pooled = {p: ClassificationImageAccumulator.combine(sets) for p, sets in sorted(people.items())}
    return {**accumulators, ALL: pooled}


@dataclass(frozen=True)
class StimulusMaps:
    """Per stimulus, over all participants: `table` (stimulus, participants, trials, accuracy,
    significant_pixels, regions, peak_z, note), and the z maps and cluster-test pixels of the
    first stimuli with a map (by name; at most `keep` of them).  With model maps of the same
    images: `agreement`, each stimulus's map against each model's map of that image (spearman,
    top_iou), and `agreement_summary`, per model the mean over the images with an
    image-bootstrap interval."""

    table: pd.DataFrame
    z: dict[str, np.ndarray]
    significant: dict[str, np.ndarray]
    agreement: pd.DataFrame | None = None
    agreement_summary: pd.DataFrame | None = None


def stimulus_maps(
    responses: pd.DataFrame,
    design: BubblesDesign,
    *,
    stimuli: Collection[str] | None = None,
    model_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    roles: tuple[str, ...] = ("main",),
    threshold: float = 2.7,
    alpha: float = 0.05,
    min_each: int = 5,
    keep: int = 24,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    random_state=None,
) -> StimulusMaps:
    """Each stimulus's classification image over all participants' Bubbles trials (by
    ``item_1``; only `stimuli` when given), with its cluster test.  One accumulator at a time;
    the z maps are kept (float32) only when `model_maps` ({model: {stimulus: map at the
    design's size}}, read one model at a time) need them.  A stimulus with fewer than
    `min_each` correct or incorrect answers gets no map (its row says so)."""
    trials = _bubbles_rows(responses, design, roles, "stimulus_maps")
    if stimuli is not None:
        trials = trials[trials["item_1"].isin(set(stimuli))]
    rows, z_maps, significant, every = [], {}, {}, {}
    for stimulus, chosen in trials.groupby("item_1", sort=True):
        pooled = _accumulated(chosen, design)
        count, right = pooled.n_trials, pooled.n_correct
        row = {"stimulus": stimulus, "participants": chosen["participant"].nunique()}
        row |= {"trials": count, "accuracy": right / count}
        if min(right, count - right) < min_each:
            rows.append(row | {"note": f"fewer than {min_each} correct or incorrect answers"})
            continue
        image = pooled.image()
        found = cluster_test(image.z, image.fwhm, threshold=threshold, alpha=alpha)
        z = image.z.astype(np.float32)
        if model_maps:
            every[stimulus] = z
        if len(z_maps) < keep:
            z_maps[stimulus], significant[stimulus] = z, found.significant
        rows.append(
            row
            | {
                "significant_pixels": int(found.significant.sum()),
                "regions": _significant_regions(found, alpha),
                "peak_z": float(np.nanmax(image.z)),
                "note": "",
            }
        )
    columns = ["stimulus", "participants", "trials", "accuracy", "significant_pixels"]
    columns += ["regions", "peak_z", "note"]
    table = pd.DataFrame(rows, columns=columns)
    if not model_maps:
        return StimulusMaps(table, z_maps, significant)
    per_image = _image_agreement(every, model_maps, top_fraction)
    summary = _image_agreement_summary(per_image, n_boot, random_state)
    return StimulusMaps(table, z_maps, significant, per_image, summary)


def _image_agreement(
    human: Mapping[str, np.ndarray],
    model_maps: Mapping[str, Mapping[str, np.ndarray]],
    top_fraction: float,
) -> pd.DataFrame:
    """Each human stimulus map against each model's map of that stimulus."""
    rows = []
    for model in model_maps:
        images = model_maps[model]  # one model's maps at a time
        for stimulus, z in human.items():
            if stimulus in images:
                found = map_agreement(z, images[stimulus], top_fraction=top_fraction)
                rows.append({"model": model, "stimulus": stimulus, **found})
    return pd.DataFrame(rows, columns=["model", "stimulus", "spearman", "top_iou"])


def _image_agreement_summary(per_image: pd.DataFrame, n_boot: int, random_state) -> pd.DataFrame:
    """Per model: the mean agreement over its images (those where it is defined), with a 95 %
    image-bootstrap interval."""
    rng = np.random.default_rng(random_state)
    rows = []
    for model, found in per_image.groupby("model", sort=False):
        for statistic in ("spearman", "top_iou"):
            values = found[statistic].to_numpy(float)
            values = values[np.isfinite(values)]
            row = {"model": model, "statistic": statistic, "images": len(values)}
            if not len(values):
                rows.append(row | {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan})
                continue
            boot = values[bootstrap_indices(len(values), n_boot, rng)].mean(axis=1)
            low, high = np.percentile(boot, [2.5, 97.5])
            rows.append(row | {"estimate": values.mean(), "ci_low": low, "ci_high": high})
    columns = ["model", "statistic", "images", "estimate", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class DecisionWeighting:
    """Group classification images, their significant regions, ceilings and model agreement.

    `regions`: one row per group and test (pixel, cluster) with the significant pixels and
    regions; `agreement`: one row per group, model and statistic (spearman, top_iou) with its
    participant-bootstrap interval and the group map's split-half ceiling; `parts` (when part
    presence maps were given): per group, test and part, the part's share of the significant
    pixels and of the image area (`analysis.bubbles.parts.part_shares`); `models`: the models'
    own answers to the same trials (`analysis.bubbles.model_answers.model_bubbles`);
    `stimuli`: each stimulus's map (`stimulus_maps`); `model_maps`: the model maps compared;
    `faces`: each group's mean face at the maps' size, to show the maps over.
    """

    images: dict[str, ClassificationImage]
    significant: dict[tuple[str, str], np.ndarray]
    regions: pd.DataFrame
    agreement: pd.DataFrame
    parts: pd.DataFrame | None = None
    models: ModelBubbles | None = None
    stimuli: StimulusMaps | None = None
    model_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None  # as given
    faces: Mapping[str, np.ndarray] | None = None  # each group's mean face, for figures


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
                    "regions": _significant_regions(result, alpha),
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
        model_maps=model_maps,
    )


def _significant_regions(result: SignificantRegions, alpha: float) -> int:
    """Connected significant regions (the cluster test's table also lists the excursions
    that were not significant)."""
    if "p" not in result.clusters.columns:
        return len(result.clusters)
    return int((result.clusters["p"] < alpha).sum())


def _first_columns(table: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)
