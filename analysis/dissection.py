"""Network dissection statistics on per-image unit counts (pure numpy/scipy).

Input per layer (from ``modelsvc.dissection``): `counts` with ``intersection`` (N, C, P),
``activated`` (N, C), ``part_area`` (N, P) and ``response`` (N, C), and a `dictionary` with
``part_names``, ``local`` ({attribute: (part, positives (N,))}) and ``global_``
({concept: positives (N,)}).

* `classic_dissection`: Bau et al. (2017): IoU of every unit with every spatial concept (parts
  and local attributes), the best concept, detector if IoU > 0.04.
* `pair_units`: hierarchical pairing (Teotia et al. 2021). Per unit: (1) local if its best
  part IoU exceeds `iou_threshold` and the (1 - alpha) quantile of that part's IoU over the
  units of a random-weights copy of the network (p-value against those units); (2) for local
  units, the attribute of that part whose IoU (the part's mask on positive images only) beats
  the (1 - alpha) quantile of its null from permuted attribute labels, if any; (3) units that
  are not local pair with the global concept whose AUC (mean activation, positive vs negative
  images) beats its permuted-label null and `min_auc`; (4) otherwise nothing. Probabilities:
  part = share of the unit's firing pixels inside the part; attribute = share of its firing
  inside the part that falls on images with the attribute; global = AUC, the probability that
  a positive image activates the unit more than a negative one.
* `summarise_pairing`: per layer, units per level and concept, unique concepts, share unpaired.
* `read_dissection`: the counts and concepts written by ``python -m modelsvc dissect``.
* `compare_pairings`: two models on the same images: differences of the shares of units per
  level and concept with bootstrap intervals over images (critical values held fixed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analysis._checks import check_int, check_random_state, check_real, fail

LEVELS = ("part", "local", "global", "none")
CLASSIC_IOU = 0.04


@dataclass(frozen=True, eq=False)
class Pairing:
    """Result of `pair_units`: one row per unit in `table` and the fixed critical values.

    Columns of `table`: unit, level (part / local / global / none), concept, part, score (IoU
    or 2 AUC - 1), probability (see module docstring), p_value (NaN where no null was run)."""

    table: pd.DataFrame
    counts: Any
    dictionary: Any
    part_critical: np.ndarray
    attribute_critical: np.ndarray
    global_critical: np.ndarray
    iou_threshold: float
    min_auc: float


def part_iou(counts: Any, weights: np.ndarray | None = None) -> np.ndarray:
    """IoU (C, P) of every unit with every part, summed over images (optionally weighted)."""
    weights = _weights(counts, weights)
    inter = np.einsum("n,ncp->cp", weights, counts.intersection, dtype=np.float64)
    activated = weights @ counts.activated
    area = weights @ counts.part_area
    return _ratio(inter, activated[:, None] + area[None, :] - inter)


def attribute_iou(
    counts: Any, part: int, positives: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """IoU (..., C) of each unit with the mask "`part` on images in `positives`".

    `positives` is (N,) or a stack (K, N) of boolean vectors (e.g. permuted labels)."""
    weights = _weights(counts, weights)
    selected = np.asarray(positives, dtype=np.float64) * weights
    inter = selected @ counts.intersection[:, :, part].astype(np.float64)
    area = selected @ counts.part_area[:, part].astype(np.float64)
    activated = weights @ counts.activated
    return _ratio(inter, activated + np.asarray(area)[..., None] - inter)


def global_auc(response: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """AUC (..., C): P(response of a positive image > a negative one), ties count half.

    `positives` is (N,) or (K, N) boolean; `response` is (N, C)."""
    return _auc_from_ranks(rankdata(response, axis=0), positives)


def _auc_from_ranks(ranks: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC from the (N, C) ranks of the responses."""
    positives = np.asarray(positives, dtype=np.float64)
    n_pos = positives.sum(axis=-1, keepdims=True)
    n_neg = ranks.shape[0] - n_pos
    return (positives @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def classic_dissection(
    counts: Any, dictionary: Any, *, iou_threshold: float = CLASSIC_IOU
) -> pd.DataFrame:
    """Bau et al. (2017): per unit the spatial concept of highest IoU and whether IoU > 0.04."""
    iou, names = _spatial_iou(counts, dictionary)
    best = iou.argmax(axis=1)
    scores = iou[np.arange(len(best)), best]
    return pd.DataFrame(
        {
            "unit": np.arange(len(best)),
            "concept": np.asarray(names, dtype=object)[best],
            "iou": scores,
            "detector": scores > iou_threshold,
        }
    )


def pair_units(
    counts: Any,
    dictionary: Any,
    *,
    baseline: Any | None = None,
    iou_threshold: float = CLASSIC_IOU,
    alpha: float = 0.01,
    min_auc: float = 0.75,
    n_permutations: int = 1000,
    random_state: Any = None,
) -> Pairing:
    """Hierarchical pairing of every unit (see module docstring).

    `baseline` holds the counts of a random-weights copy of the network on the same images
    (the null of the part stage); without it, a part pairs when its IoU > `iou_threshold`.
    """
    owner = "pair_units"
    alpha = check_real(owner, "alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    min_auc = check_real(owner, "min_auc", min_auc, low=0.5, high=1.0)
    iou_threshold = check_real(owner, "iou_threshold", iou_threshold, low=0.0, high=1.0)
    n_permutations = check_int(owner, "n_permutations", n_permutations, minimum=1)
    rng = check_random_state(owner, random_state)
    n_images, n_units, n_parts = counts.intersection.shape
    _check_counts(owner, counts, dictionary)
    permutations = np.argsort(rng.random((n_permutations, n_images)), axis=1)

    iou = part_iou(counts)
    part_critical = np.full(n_parts, iou_threshold)
    part_p = np.full((n_units, n_parts), np.nan)
    if baseline is not None:
        _check_counts("pair_units (baseline)", baseline, dictionary)
        null = part_iou(baseline)
        part_critical = np.maximum(iou_threshold, np.quantile(null, 1.0 - alpha, axis=0))
        part_p = (1 + (null[None, :, :] >= iou[:, None, :]).sum(axis=1)) / (1 + len(null))

    attributes = list(dictionary.local.items())
    attribute_iou_obs = np.zeros((n_units, len(attributes)))
    attribute_critical = np.zeros((n_units, len(attributes)))
    attribute_p = np.ones((n_units, len(attributes)))
    for column, (_, (part, positives)) in enumerate(attributes):
        index = dictionary.part_names.index(part)
        observed = attribute_iou(counts, index, positives)
        null = attribute_iou(counts, index, np.asarray(positives)[permutations])
        attribute_iou_obs[:, column] = observed
        attribute_critical[:, column] = np.quantile(null, 1.0 - alpha, axis=0)
        attribute_p[:, column] = (1 + (null >= observed).sum(axis=0)) / (1 + n_permutations)

    concepts = list(dictionary.global_.items())
    ranks = rankdata(counts.response, axis=0)
    auc = np.zeros((n_units, len(concepts)))
    global_critical = np.zeros((n_units, len(concepts)))
    global_p = np.ones((n_units, len(concepts)))
    for column, (_, positives) in enumerate(concepts):
        observed = _auc_from_ranks(ranks, positives)
        null = _auc_from_ranks(ranks, np.asarray(positives)[permutations])
        auc[:, column] = observed
        global_critical[:, column] = np.quantile(null, 1.0 - alpha, axis=0)
        global_p[:, column] = (1 + (null >= observed).sum(axis=0)) / (1 + n_permutations)

    decisions = _decide(
        dictionary,
        iou,
        attribute_iou_obs,
        auc,
        part_critical=part_critical,
        attribute_critical=attribute_critical,
        global_critical=global_critical,
        min_auc=min_auc,
    )
    rows = []
    for unit, (level, concept, part, column) in enumerate(decisions):
        if level in ("part", "local"):
            p = dictionary.part_names.index(part)
            part_inter = counts.intersection[:, unit, p].sum()
            probability = _safe(part_inter, counts.activated[:, unit].sum())
            score, p_value = iou[unit, p], part_p[unit, p]
            if level == "local":
                positives = np.asarray(dictionary.local[concept][1])
                probability = _safe(counts.intersection[positives, unit, p].sum(), part_inter)
                score, p_value = attribute_iou_obs[unit, column], attribute_p[unit, column]
        elif level == "global":
            score = 2 * auc[unit, column] - 1
            probability, p_value = auc[unit, column], global_p[unit, column]
        else:
            score, probability, p_value = np.nan, np.nan, np.nan
        rows.append((unit, level, concept, part, score, probability, p_value))
    table = pd.DataFrame(
        rows, columns=["unit", "level", "concept", "part", "score", "probability", "p_value"]
    )
    return Pairing(
        table,
        counts,
        dictionary,
        part_critical,
        attribute_critical,
        global_critical,
        iou_threshold,
        min_auc,
    )


def _decide(
    dictionary: Any,
    iou: np.ndarray,
    attribute_scores: np.ndarray,
    auc: np.ndarray,
    *,
    part_critical: np.ndarray,
    attribute_critical: np.ndarray,
    global_critical: np.ndarray,
    min_auc: float,
) -> list[tuple[str, str | None, str | None, int]]:
    """(level, concept, part, column) per unit given scores and fixed critical values."""
    parts = dictionary.part_names
    attribute_parts = np.array([part for part, _ in dictionary.local.values()], dtype=object)
    attribute_names = list(dictionary.local)
    global_names = list(dictionary.global_)
    passing_global = (auc > global_critical) & (auc >= min_auc)
    decisions = []
    for unit in range(iou.shape[0]):
        best = int(iou[unit].argmax())
        if iou[unit, best] > part_critical[best]:
            candidates = (attribute_parts == parts[best]) & (
                attribute_scores[unit] > attribute_critical[unit]
            )
            if candidates.any():
                column = int(np.where(candidates, attribute_scores[unit], -np.inf).argmax())
                decisions.append(("local", attribute_names[column], parts[best], column))
            else:
                decisions.append(("part", parts[best], parts[best], best))
        elif passing_global[unit].any():
            column = int(np.where(passing_global[unit], auc[unit], -np.inf).argmax())
            decisions.append(("global", global_names[column], None, column))
        else:
            decisions.append(("none", None, None, -1))
    return decisions


def summarise_pairing(pairing: Pairing) -> dict[str, Any]:
    """Units per level and per (level, concept), unique concepts and the share unpaired."""
    table = pairing.table
    paired = table[table.level != "none"]
    return {
        "units": len(table),
        "per_level": {level: int((table.level == level).sum()) for level in LEVELS},
        "per_concept": paired.groupby(["level", "concept"]).size().to_dict(),
        "unique_concepts": int(paired.concept.nunique()),
        "share_unpaired": float((table.level == "none").mean()) if len(table) else np.nan,
    }


def compare_pairings(
    first: Pairing | Sequence[Pairing],
    second: Pairing | Sequence[Pairing],
    *,
    combined: Mapping[str, Collection[tuple[str, str]]] | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    random_state: Any = None,
) -> pd.DataFrame:
    """Shares of units per level and per concept in two models on the same images, their
    difference (second - first) and a percentile bootstrap interval over images.

    Every draw resamples images (the same draw for both models), recomputes the scores and
    decides with the critical values of the full data held fixed. A side may be several
    models (e.g. training seeds): its share is their mean, every model deciding with its own
    critical values on the same draw. `combined` adds rows (level ``"combined"``) summing
    several (level, concept) keys, e.g. every concept of glasses."""
    owner = "compare_pairings"
    n_bootstrap = check_int(owner, "n_bootstrap", n_bootstrap, minimum=1)
    level = check_real(owner, "level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    rng = check_random_state(owner, random_state)
    sides = [
        _pairing_list(owner, name, side) for name, side in (("first", first), ("second", second))
    ]
    n_images = sides[0][0].counts.intersection.shape[0]
    if any(p.counts.intersection.shape[0] != n_images for side in sides for p in side):
        raise fail(owner, "second", f"pairings on the same {n_images} images", "another set")
    keys = sorted(set().union(*(_share_keys(p) for side in sides for p in side)))
    combined = dict(combined or {})
    unknown = sorted({k for members in combined.values() for k in members} - set(keys))
    if unknown:
        raise fail(owner, "combined", "(level, concept) keys of the pairings", unknown)
    summing = np.array([[key in members for key in keys] for members in combined.values()])
    summing = summing.reshape(len(combined), len(keys)).astype(np.float64)

    def side_shares(side: list[Pairing], index: np.ndarray) -> np.ndarray:
        shares = np.mean([_shares(p, keys, index) for p in side], axis=0)
        return np.concatenate([shares, summing @ shares])

    observed = [side_shares(side, np.arange(n_images)) for side in sides]
    draws = np.empty((n_bootstrap, 2, len(keys) + len(combined)))
    for draw in range(n_bootstrap):
        index = rng.integers(0, n_images, n_images)
        draws[draw] = [side_shares(side, index) for side in sides]
    difference = draws[:, 1] - draws[:, 0]
    tail = (1 - level) / 2
    low, high = np.quantile(difference, [tail, 1 - tail], axis=0)
    rows = [*keys, *(("combined", name) for name in combined)]
    return pd.DataFrame(
        {
            "level": [k[0] for k in rows],
            "concept": [k[1] for k in rows],
            "share_first": observed[0],
            "share_second": observed[1],
            "difference": observed[1] - observed[0],
            "low": low,
            "high": high,
        }
    )


def compare_accuracy_gaps(
    first: np.ndarray,
    second: np.ndarray,
    *,
    agree: np.ndarray,
    groups: Sequence[Any] | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    random_state: Any = None,
) -> dict[str, float]:
    """The behavioural check of a planted bias: accuracy where a spurious cue agrees with the
    label minus where it contradicts it (the gap), for two sets of models on the same images.

    `first` and `second` are correct-answer booleans (models, N); `agree` (N,) marks the
    images whose cue agrees. A side's gap is the mean over its models; the difference
    (second - first) gets a percentile bootstrap interval over `groups` (e.g. identities, so
    the views of one face stay together; default: images), the same draw for both sides."""
    owner = "compare_accuracy_gaps"
    n_bootstrap = check_int(owner, "n_bootstrap", n_bootstrap, minimum=1)
    level = check_real(owner, "level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    rng = check_random_state(owner, random_state)
    agree = np.asarray(agree, dtype=bool)
    if agree.ndim != 1 or agree.all() or not agree.any():
        raise fail(owner, "agree", "a 1-D boolean vector with both values", agree)
    sides = []
    for name, side in (("first", first), ("second", second)):
        correct = np.atleast_2d(np.asarray(side, dtype=np.float64))
        if correct.ndim != 2 or correct.shape[1] != len(agree):
            raise fail(owner, name, f"correct answers (models, {len(agree)})", correct.shape)
        sides.append(correct)
    labels = np.arange(len(agree)) if groups is None else np.asarray(groups)
    if labels.shape != agree.shape:
        raise fail(owner, "groups", f"one group per image ({len(agree)})", labels.shape)
    _, group_of = np.unique(labels, return_inverse=True)
    n_groups = group_of.max() + 1

    def gaps(weights: np.ndarray) -> np.ndarray:
        return np.array(
            [
                np.mean(_weighted_mean(c, weights * agree) - _weighted_mean(c, weights * ~agree))
                for c in sides
            ]
        )

    observed = gaps(np.ones(len(agree)))
    draws = np.empty((n_bootstrap, 2))
    for draw in range(n_bootstrap):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        draws[draw] = gaps(counts[group_of].astype(np.float64))
    tail = (1 - level) / 2
    low, high = np.nanquantile(draws[:, 1] - draws[:, 0], [tail, 1 - tail])
    return {
        "gap_first": float(observed[0]),
        "gap_second": float(observed[1]),
        "difference": float(observed[1] - observed[0]),
        "low": float(low),
        "high": float(high),
    }


def _weighted_mean(correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per model (rows) the `weights`-weighted accuracy; NaN when the weights are all 0."""
    total = weights.sum()
    return correct @ weights / total if total > 0 else np.full(len(correct), np.nan)


def bias_share_figure(table: pd.DataFrame, *, concept: str) -> Any:
    """Figure of a bias experiment: per layer the share of units paired with `concept` in
    each side of every comparison (bars), and the difference with its interval.

    `table` has the columns of `compare_pairings` plus ``layer`` and ``comparison``; rows
    with level ``combined`` and `concept` are drawn (one colour per comparison)."""
    from matplotlib.figure import Figure

    rows = table[(table.level == "combined") & (table.concept == concept)]
    if rows.empty:
        raise fail(
            "bias_share_figure", "table", f"rows of the combined concept {concept!r}", "none"
        )
    layers = list(dict.fromkeys(rows.layer))
    comparisons = list(dict.fromkeys(rows.comparison))
    figure = Figure(figsize=(4 + 1.2 * len(layers), 6.5), layout="constrained")
    shares, differences = figure.subplots(2, 1, sharex=True)
    width = 0.8 / (2 * len(comparisons))
    x = np.arange(len(layers))
    for c, comparison in enumerate(comparisons):
        part = rows[rows.comparison == comparison].set_index("layer").loc[layers]
        first, second = (
            comparison.split("_vs_")[::-1] if "_vs_" in comparison else ("first", "second")
        )
        for s, (column, label) in enumerate((("share_first", first), ("share_second", second))):
            offset = (2 * c + s - len(comparisons) + 0.5) * width
            shares.bar(x + offset, part[column], width, label=f"{comparison}: {label}")
        offset = (c - (len(comparisons) - 1) / 2) * 0.2
        error = [part.difference - part.low, part.high - part.difference]
        differences.errorbar(
            x + offset, part.difference, yerr=error, fmt="o", capsize=4, label=comparison
        )
    shares.set_ylabel(f"share of units paired with {concept}")
    shares.legend(fontsize="small")
    differences.axhline(0, color="grey", linewidth=0.8)
    differences.set_ylabel("difference (95 % bootstrap interval)")
    differences.set_xticks(x, layers)
    differences.set_xlabel("layer")
    differences.legend(fontsize="small")
    return figure


def _pairing_list(owner: str, name: str, side: Pairing | Sequence[Pairing]) -> list[Pairing]:
    pairings = [side] if isinstance(side, Pairing) else list(side)
    if not pairings or not all(isinstance(p, Pairing) for p in pairings):
        raise fail(owner, name, "a Pairing or a non-empty sequence of them", side)
    return pairings


def _share_keys(pairing: Pairing) -> set[tuple[str, str]]:
    concepts = pairing.dictionary
    return (
        {(level, "*") for level in LEVELS}
        | {("part", p) for p in concepts.part_names}
        | {("local", a) for a in concepts.local}
        | {("global", g) for g in concepts.global_}
    )


def _shares(pairing: Pairing, keys: list[tuple[str, str]], index: np.ndarray) -> np.ndarray:
    """Share of units per (level, concept) key when the images are `index` (with repeats)."""
    counts, dictionary = pairing.counts, pairing.dictionary
    weights = np.bincount(index, minlength=counts.intersection.shape[0]).astype(np.float64)
    attribute_scores = np.column_stack(
        [
            attribute_iou(counts, dictionary.part_names.index(part), positives, weights)
            for part, positives in dictionary.local.values()
        ]
        or [np.zeros(counts.intersection.shape[1])]
    )[:, : len(dictionary.local)]
    ranks = rankdata(counts.response[index], axis=0)
    auc = np.column_stack(
        [_auc_from_ranks(ranks, np.asarray(g)[index]) for g in dictionary.global_.values()]
        or [np.zeros(counts.intersection.shape[1])]
    )[:, : len(dictionary.global_)]
    decisions = _decide(
        dictionary,
        part_iou(counts, weights),
        attribute_scores,
        auc,
        part_critical=pairing.part_critical,
        attribute_critical=pairing.attribute_critical,
        global_critical=pairing.global_critical,
        min_auc=pairing.min_auc,
    )
    tally: dict[tuple[str, str], int] = {}
    for unit_level, concept, _, _ in decisions:
        tally[(unit_level, "*")] = tally.get((unit_level, "*"), 0) + 1
        if concept is not None:
            tally[(unit_level, concept)] = tally.get((unit_level, concept), 0) + 1
    return np.array([tally.get(key, 0) for key in keys]) / len(decisions)


def _spatial_iou(counts: Any, dictionary: Any) -> tuple[np.ndarray, list[str]]:
    """IoU (C, P + A) with parts then local attributes, and the concept names."""
    columns = [part_iou(counts)]
    for part, positives in dictionary.local.values():
        columns.append(attribute_iou(counts, dictionary.part_names.index(part), positives)[:, None])
    return np.hstack(columns), [*dictionary.part_names, *dictionary.local]


def _check_counts(owner: str, counts: Any, dictionary: Any) -> None:
    n_images, n_units, n_parts = counts.intersection.shape
    shapes = {
        "activated": (n_images, n_units),
        "part_area": (n_images, n_parts),
        "response": (n_images, n_units),
    }
    for name, shape in shapes.items():
        if getattr(counts, name).shape != shape:
            raise fail(owner, "counts", f"{name} of shape {shape}", getattr(counts, name).shape)
    if len(dictionary.part_names) != n_parts:
        raise fail(owner, "dictionary", f"{n_parts} parts", list(dictionary.part_names))
    for name, positives in [
        *((a, p) for a, (_, p) in dictionary.local.items()),
        *dictionary.global_.items(),
    ]:
        if np.shape(positives) != (n_images,):
            raise fail(owner, "dictionary", f"concept labels for {n_images} images", name)


def _weights(counts: Any, weights: np.ndarray | None) -> np.ndarray:
    n_images = counts.intersection.shape[0]
    return np.ones(n_images) if weights is None else np.asarray(weights, dtype=np.float64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(numerator.shape, denominator.shape))
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _safe(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else np.nan


@dataclass(frozen=True, eq=False)
class Concepts:
    """The concepts of a Face Dictionary without its masks (what pairing needs)."""

    part_names: tuple[str, ...]
    local: dict[str, tuple[str, np.ndarray]]
    global_: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class Dissection:
    """A ``dissection.npz`` written by ``python -m modelsvc dissect``: counts per network
    (``model``, ``random``) and layer, the concepts, and the JSON record."""

    counts: dict[str, dict[str, SimpleNamespace]]
    concepts: Concepts
    record: dict[str, Any]


def read_dissection(path: str | Path) -> Dissection:
    """Read a ``dissection.npz`` and its JSON record (a changed file is an error)."""
    path = Path(path)
    record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if record.get("sha256") != digest:
        raise ValueError(f"The file {str(path)!r} does not match its record (sha256 {digest}).")
    with np.load(path, allow_pickle=False) as data:
        return dissection_from_arrays({key: data[key] for key in data.files}, record)


def dissection_from_arrays(arrays: dict[str, np.ndarray], record: dict[str, Any]) -> Dissection:
    """A `Dissection` from the arrays of a ``dissection.npz`` and its record (parts and the
    part of each local attribute); keys outside ``<network>/<layer>/<field>``, ``local/``
    and ``global/`` (e.g. ``stimulus_ids``, ``examples/...``) are left out."""
    counts: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    local, global_ = {}, {}
    for key, value in arrays.items():
        head, _, rest = key.partition("/")
        if head == "local":
            local[rest] = (record["local_parts"][rest], value)
        elif head == "global":
            global_[rest] = value
        elif rest and head != "examples":
            layer, _, field = rest.rpartition("/")
            counts.setdefault(head, {}).setdefault(layer, {})[field] = value
    return Dissection(
        {
            network: {layer: SimpleNamespace(**fields) for layer, fields in layers.items()}
            for network, layers in counts.items()
        },
        Concepts(tuple(record["parts"]), local, global_),
        record,
    )
