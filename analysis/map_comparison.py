"""Relevance maps compared across models: pairwise agreement per image and consensus maps.

* `pairwise_map_agreement`: per image, Spearman's rho and the top-k IoU of every pair of
  models' maps (the definition of `analysis.bubbles.map_agreement`: k = floor(f * pixels +
  0.5), ties by pixel index), computed for all pairs at once from each model's ranks.
* `agreement_summary`: per model pair and per factor relation ("only <factor>": pairs that
  differ in that attribute alone) the mean over images with image-bootstrap intervals (the
  same draws for every row).
* `consensus_maps`: the pixels in the top-k of every model (and of every model of each
  group, e.g. each pretraining); `consensus_share` is the consensus size as a share of k,
  next to its chance level f^(M-1) for independent maps.
* `compare_maps`: all of these for one set of maps (with the consensus per face part), as
  the report's replication section and the map-comparison job give them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis._checks import check_real, fail
from analysis.generalisation_inference import only_differs
from analysis.inference import bootstrap_indices, draw_counts
from analysis.relevance import relevance_mass_per_part

_CHUNK_PIXELS = 4_000_000


def _stacked_maps(func: str, maps: Mapping[str, np.ndarray]) -> tuple[list[str], tuple]:
    names = list(maps)
    if len(names) < 2:
        raise fail(func, "maps", "maps of at least 2 models", names)
    shape = np.shape(maps[names[0]])
    if len(shape) != 3:
        raise fail(func, "maps", "(n_images, H, W) arrays", shape)
    return names, shape


def _image_chunks(shape: tuple) -> list[slice]:
    """Slices of images holding about `_CHUNK_PIXELS` pixels (ranks of every model at once
    for 1,000 maps at 224 px would take GBs)."""
    step = max(1, _CHUNK_PIXELS // max(1, int(np.prod(shape[1:]))))
    return [slice(start, start + step) for start in range(0, shape[0], step)]


def top_masks(maps: np.ndarray, top_fraction: float) -> np.ndarray:
    """(N, P) bool: each image's top-k pixels, ties at the k-th value broken by the lower
    pixel index (= a stable sort of -values, without sorting: a partition finds the k-th)."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    n_pixels = flat.shape[1]
    count = max(1, int(np.floor(top_fraction * n_pixels + 0.5)))
    kth = np.partition(flat, n_pixels - count, axis=1)[:, n_pixels - count, None]
    above = flat > kth
    tied = flat == kth
    needed = count - above.sum(axis=1, keepdims=True)
    return above | (tied & (np.cumsum(tied, axis=1) <= needed))


def _z_ranks(maps: np.ndarray) -> np.ndarray:
    """(N, P) average ranks standardised per image (population SD); constant maps -> NaN."""
    ranks = stats.rankdata(np.asarray(maps, dtype=float).reshape(len(maps), -1), axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranks / ranks.std(axis=1, keepdims=True)).astype(np.float32)


def pairwise_map_agreement(
    maps: Mapping[str, np.ndarray],
    *,
    top_fraction: float = 0.1,
    image_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Columns image, model_a, model_b, spearman, top_iou: one row per image and unordered
    pair of models (in the order of `maps`); every map (n_images, H, W), finite."""
    func = "pairwise_map_agreement"
    check_real(func, "top_fraction", top_fraction, low=0, high=1, low_open=True)
    names, shape = _stacked_maps(func, maps)
    ids = np.array([str(i) for i in (range(shape[0]) if image_ids is None else image_ids)])
    if len(ids) != shape[0]:
        raise fail(func, "image_ids", f"{shape[0]} ids", len(ids))
    tables = []
    for chunk in _image_chunks(shape):
        ranks, tops = {}, {}
        for name in names:  # one model's chunk at a time: maps may be read from files
            whole = maps[name]
            part = np.asarray(whole[chunk], dtype=float)
            if np.shape(whole) != shape or not np.isfinite(part).all():
                got = f"{name}: {np.shape(whole)}"
                raise fail(func, "maps", f"finite arrays of shape {shape}", got)
            ranks[name], tops[name] = _z_ranks(part), top_masks(part, top_fraction)
        for a, b in itertools.combinations(names, 2):
            inter = (tops[a] & tops[b]).sum(axis=1)
            union = (tops[a] | tops[b]).sum(axis=1)
            tables.append(
                pd.DataFrame(
                    {
                        "image": ids[chunk],
                        "model_a": a,
                        "model_b": b,
                        "spearman": (ranks[a] * ranks[b]).mean(axis=1, dtype=float),
                        "top_iou": inter / union,
                    }
                )
            )
    table = pd.concat(tables, ignore_index=True)
    order = {pair: k for k, pair in enumerate(itertools.combinations(names, 2))}
    key = [order[(a, b)] for a, b in zip(table["model_a"], table["model_b"], strict=True)]
    return table.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def agreement_summary(
    per_image: pd.DataFrame,
    info: pd.DataFrame | None = None,
    factors: Sequence[str] = (),
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per pair, per relation): mean Spearman and top-k IoU over images with percentile
    intervals from one set of image-bootstrap draws; relations "all pairs" and, with `info`,
    "only <factor>" for each factor with such pairs."""
    images = pd.Index(per_image["image"].unique())
    n = len(images)
    counts = draw_counts(bootstrap_indices(n, n_boot, random_state), n)
    pairs = per_image.groupby(["model_a", "model_b"], sort=False)
    keys = list(pairs.groups)
    values = {
        s: np.stack([g.set_index("image").loc[images, s].to_numpy(float) for _, g in pairs])
        for s in ("spearman", "top_iou")
    }  # (pairs, N)
    tail = 100 * (1 - level) / 2

    def summarise(select: np.ndarray) -> dict:
        row = {"n_pairs": int(select.sum())}
        for s, v in values.items():
            per_pair = v[select]
            row[s] = float(per_pair.mean())
            boot = (counts @ per_pair.T / n).mean(axis=1)
            row[f"{s}_ci_low"], row[f"{s}_ci_high"] = np.percentile(boot, [tail, 100 - tail])
        return row

    per_pair = pd.DataFrame(
        [
            {"model_a": a, "model_b": b, **summarise(np.arange(len(keys)) == k)}
            for k, (a, b) in enumerate(keys)
        ]
    ).drop(columns="n_pairs")
    relations = [{"relation": "all pairs", **summarise(np.ones(len(keys), dtype=bool))}]
    if info is not None and factors:
        models = list(dict.fromkeys([*per_image["model_a"], *per_image["model_b"]]))
        masks = only_differs(models, info, factors)
        pos = {m: i for i, m in enumerate(models)}
        for f in factors:
            select = np.array([masks[f][pos[a], pos[b]] for a, b in keys])
            if select.any():
                relations.append({"relation": f"only {f}", **summarise(select)})
    return per_pair, pd.DataFrame(relations)


def consensus_maps(
    maps: Mapping[str, np.ndarray],
    *,
    top_fraction: float = 0.1,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, np.ndarray]:
    """Name -> (N, H, W) bool: pixels in the top-k of every model ("all models") and of every
    model of each group (`groups`: name -> its models, e.g. "pretraining = faces")."""
    func = "consensus_maps"
    check_real(func, "top_fraction", top_fraction, low=0, high=1, low_open=True)
    names, shape = _stacked_maps(func, maps)
    members = {"all models": names, **dict(groups or {})}
    for group, models in members.items():
        unknown = sorted(set(models) - set(names))
        if unknown or not models:
            raise fail(func, "groups", "groups of known models", f"{group}: {unknown}")
    out = {group: np.ones(shape, dtype=bool) for group in members}
    for name in names:  # one model's maps at a time
        top = top_masks(maps[name], top_fraction).reshape(shape)
        for group, models in members.items():
            if name in models:
                out[group] &= top
    return out


def consensus_share(
    consensus: Mapping[str, np.ndarray],
    sizes: Mapping[str, int],
    *,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state=None,
) -> pd.DataFrame:
    """Per consensus (`sizes`: its number of models M): mean over images of |consensus| / k,
    image-bootstrap interval, and the chance share f^(M-1) of independent random top-k sets."""
    tail = 100 * (1 - level) / 2
    rows = []
    for name, mask in consensus.items():
        flat = mask.reshape(len(mask), -1)
        count = max(1, int(np.floor(top_fraction * flat.shape[1] + 0.5)))
        share = flat.sum(axis=1) / count
        n = len(share)
        boot = draw_counts(bootstrap_indices(n, n_boot, random_state), n) @ share / n
        low, high = np.percentile(boot, [tail, 100 - tail])
        rows.append(
            {
                "consensus": name,
                "n_models": sizes[name],
                "share_of_top_k": float(share.mean()),
                "ci_low": low,
                "ci_high": high,
                "chance": top_fraction ** (sizes[name] - 1),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MapComparison:
    """`compare_maps`'s tables: per model pair and per factor relation (`agreement_summary`),
    the consensus masks (N, H, W) by name, their sizes and, with part masks, their share
    per face part."""

    pairs: pd.DataFrame
    relations: pd.DataFrame
    consensus: dict[str, np.ndarray]
    consensus_share: pd.DataFrame
    consensus_parts: pd.DataFrame | None


def compare_maps(
    maps: Mapping[str, np.ndarray],
    info: pd.DataFrame | None = None,
    factors: Sequence[str] = (),
    *,
    part_masks: np.ndarray | None = None,
    part_labels: Mapping[int, str] | None = None,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state=None,
) -> MapComparison:
    """Pairwise agreement (grouped by the `factors` of `info`: model + attribute columns), the
    consensus of all models and of each pretraining (when `info` has several), and the
    consensus per face part when `part_masks` (N, H, W labels) are given."""
    per_image = pairwise_map_agreement(maps, top_fraction=top_fraction)
    pairs, relations = agreement_summary(
        per_image,
        info if factors else None,
        factors,
        n_boot=n_boot,
        level=level,
        random_state=random_state,
    )
    groups = _pretraining_groups(list(maps), info)
    consensus = consensus_maps(maps, top_fraction=top_fraction, groups=groups)
    sizes = {"all models": len(maps), **{g: len(m) for g, m in groups.items()}}
    share = consensus_share(
        consensus,
        sizes,
        top_fraction=top_fraction,
        n_boot=n_boot,
        level=level,
        random_state=random_state,
    )
    parts = None
    if part_masks is not None and part_labels:
        parts = _consensus_parts(consensus, part_masks, part_labels)
    return MapComparison(pairs, relations, consensus, share, parts)


def _pretraining_groups(models: list[str], info: pd.DataFrame | None) -> dict:
    if info is None or "pretraining" not in info.columns:
        return {}
    meta = info.drop_duplicates("model").set_index("model")
    known = [m for m in models if m in meta.index]
    groups: dict[str, list[str]] = {}
    for m in known:
        groups.setdefault(f"pretraining = {meta.loc[m, 'pretraining']}", []).append(m)
    return groups if len(groups) > 1 else {}


def _consensus_parts(consensus, part_masks, part_labels) -> pd.DataFrame:
    """Share of each consensus's pixels per face part vs the part's area (mean over images)."""
    tables = []
    for name, mask in consensus.items():
        per_image = relevance_mass_per_part(mask.astype(float), part_masks, part_labels)
        summary = per_image.groupby("part", as_index=False)[
            ["relevance_share", "area_share"]
        ].mean()
        summary = summary.rename(columns={"relevance_share": "consensus_share"})
        summary.insert(0, "consensus", name)
        summary["enrichment"] = summary["consensus_share"] / summary["area_share"]
        tables.append(summary)
    return pd.concat(tables, ignore_index=True)
