"""Relevance analyses: model decision weighting vs humans, cross-model generalisation, parts.

Inputs come from modelsvc as arrays and long tables; nothing here runs a network.

* `decision_weighting_curves`: a model's similarity computed on relevance-masked images (or
  relevance-weighted features) at several fractions k, compared with the human matrix, next to
  the same model's unmasked and random-mask matrices.  Answers "do the pixels the model relies
  on carry the similarity structure humans see?".
* `generalisation_table` / `generalisation_auc` / `generalisation_matrix` /
  `generalisation_asymmetry` / `generalisation_groups`: summaries of G[A, B, k] = accuracy of
  model B on images masked by model A's relevance (modelsvc's layout: baseline mask sources
  "random" and "center" are extra A rows) -- area under the k-curve, the A x B matrix,
  G[A,B] - G[B,A], and same-vs-different comparisons by pretraining, task, seed or any other
  model attribute, with the gain over the random-mask baseline.
* `relevance_mass_per_part`: share of (positive) relevance inside each labelled face part, its
  share of the area, and their ratio (> 1: the part gets more relevance than its size).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_columns, check_int, fail
from analysis.compare import ModelInput, model_matrices
from analysis.evaluation import make_engine
from analysis.inference import bootstrap_indices, stimulus_pair_weights
from analysis.kernels import METHODS
from analysis.matrices import ParticipantMatrices


def decision_weighting_curves(
    masked: Mapping[tuple[str, str, float], ModelInput],
    human: ParticipantMatrices,
    method: str = "spearman",
    *,
    unmasked: Mapping[str, ModelInput] | None = None,
    n_boot: int = 0,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Model-human agreement as a function of the kept/removed relevance fraction k.

    Args:
        masked: (model, condition, k) -> model dissimilarity matrix on masked images; condition
            is e.g. "relevance" or "random" (any labels; "random" is the baseline).
        human: per-participant human matrices.
        unmasked: model -> matrix on the original images (the k-independent baseline).
        n_boot: stimulus-bootstrap draws for 95 % percentile intervals (0: none); every entry
            uses the same draws, so differences have intervals too.

    Returns one row per (model, condition, k): evaluation (mean over participants, as
    `analysis.compare.evaluate`), ci_low/ci_high, unmasked evaluation, difference to unmasked
    and, where a "random" condition exists at that k, difference to random with its interval.
    """
    func = "decision_weighting_curves"
    check_choice(func, "method", method, METHODS)
    n_boot = check_int(func, "n_boot", n_boot, minimum=0)
    keys = list(masked)
    for key in keys:
        if not (isinstance(key, tuple) and len(key) == 3):
            raise fail(func, "masked", "keys (model, condition, k)", key)
    named = {f"{m}|{c}|{k}": masked[(m, c, k)] for m, c, k in keys}
    unmasked = dict(unmasked or {})
    named.update({f"{m}|unmasked|": v for m, v in unmasked.items()})
    aligned = model_matrices(named, human.stimuli)
    vectors = np.stack([v.upper() for v in aligned.values()])
    engine = make_engine(vectors, human.dissimilarity(), method)
    ones_p = np.ones((1, human.n_participants))
    point, _ = engine.run(np.ones((1, engine.n_pairs)), ones_p, ceiling=False)
    point = point[0]
    boot = None
    if n_boot:
        draws = bootstrap_indices(human.n_stimuli, n_boot, random_state)
        weights = stimulus_pair_weights(draws, human.n_stimuli)
        boot, _ = engine.run(weights, np.ones((n_boot, human.n_participants)), ceiling=False)
    index = {name: k for k, name in enumerate(aligned)}
    rows = []
    for m, c, k in keys:
        col = index[f"{m}|{c}|{k}"]
        row = {"model": m, "condition": c, "k": k, "method": method, "evaluation": point[col]}
        if boot is not None:
            row["ci_low"], row["ci_high"] = np.nanpercentile(boot[:, col], [2.5, 97.5])
        if m in unmasked:
            base = index[f"{m}|unmasked|"]
            row["unmasked"] = point[base]
            row["minus_unmasked"] = point[col] - point[base]
        rand_key = f"{m}|random|{k}"
        if c != "random" and rand_key in index:
            rand = index[rand_key]
            row["minus_random"] = point[col] - point[rand]
            if boot is not None:
                diff = boot[:, col] - boot[:, rand]
                row["minus_random_ci_low"], row["minus_random_ci_high"] = np.nanpercentile(
                    diff, [2.5, 97.5]
                )
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "condition", "k"], ignore_index=True)


GENERALISATION_COLUMNS = ("model_a", "model_b", "k", "accuracy")
BASELINES = ("random", "center")


def generalisation_table(
    accuracy: np.ndarray,
    sources: Sequence[str],
    models: Sequence[str],
    fractions: Sequence[float],
) -> pd.DataFrame:
    """The long table from modelsvc's arrays: ``accuracy`` (sources, models, fractions) with
    sources = the models whose relevance made the masks, then baselines ("random", "center").
    Columns model_a (source), model_b (tested model), k, accuracy."""
    acc = np.asarray(accuracy, dtype=float)
    shape = (len(sources), len(models), len(fractions))
    if acc.shape != shape:
        raise fail("generalisation_table", "accuracy", f"an array of shape {shape}", acc.shape)
    a, b, k = np.meshgrid(
        np.arange(shape[0]), np.arange(shape[1]), np.arange(shape[2]), indexing="ij"
    )
    return pd.DataFrame(
        {
            "model_a": np.asarray(sources, dtype=object)[a.ravel()],
            "model_b": np.asarray(models, dtype=object)[b.ravel()],
            "k": np.asarray(fractions, dtype=float)[k.ravel()],
            "accuracy": acc.ravel(),
        }
    )


def _check_generalisation(func: str, table: pd.DataFrame) -> pd.DataFrame:
    check_columns(func, "table", table, GENERALISATION_COLUMNS)
    if table.duplicated(["model_a", "model_b", "k"]).any():
        raise fail(func, "table", "one row per (model_a, model_b, k)", "duplicates")
    return table


def generalisation_auc(table: pd.DataFrame) -> pd.DataFrame:
    """Area under each accuracy-vs-k curve divided by the k range (= mean accuracy over k,
    trapezoid rule, as modelsvc computes it).  Columns: model_a, model_b, auc, n_k, k_min,
    k_max (baseline sources included as model_a rows)."""
    table = _check_generalisation("generalisation_auc", table)
    rows = []
    for (a, b), grp in table.groupby(["model_a", "model_b"], sort=True):
        grp = grp.sort_values("k")
        k = grp["k"].to_numpy(float)
        acc = grp["accuracy"].to_numpy(float)
        auc = float(np.trapezoid(acc, k) / (k[-1] - k[0])) if len(k) > 1 else float(acc[0])
        rows.append(
            {"model_a": a, "model_b": b, "auc": auc, "n_k": len(k), "k_min": k[0], "k_max": k[-1]}
        )
    return pd.DataFrame(rows)


def generalisation_matrix(
    table: pd.DataFrame, *, k: float | None = None, baselines: Sequence[str] = BASELINES
) -> pd.DataFrame:
    """G as a model_a (rows: whose relevance masked the images, baselines last) x model_b
    (columns: the tested model) DataFrame, at one k or (k=None) as the normalised AUC."""
    table = _check_generalisation("generalisation_matrix", table)
    if k is None:
        matrix = generalisation_auc(table).pivot(index="model_a", columns="model_b", values="auc")
    else:
        at_k = table[np.isclose(table["k"].astype(float), float(k))]
        if at_k.empty:
            raise fail("generalisation_matrix", "k", "a k present in the table", k)
        matrix = at_k.pivot(index="model_a", columns="model_b", values="accuracy")
    order = [m for m in matrix.index if m not in baselines]
    order += [m for m in baselines if m in matrix.index]
    return matrix.loc[order]


def generalisation_asymmetry(matrix: pd.DataFrame) -> pd.DataFrame:
    """G[A, B] - G[B, A] for every unordered pair of models with both directions measured."""
    models = sorted(set(matrix.index) & set(matrix.columns))
    rows = []
    for x, a in enumerate(models):
        for b in models[x + 1 :]:
            ab, ba = matrix.loc[a, b], matrix.loc[b, a]
            if pd.notna(ab) and pd.notna(ba):
                rows.append(
                    {"model_a": a, "model_b": b, "g_ab": ab, "g_ba": ba, "asymmetry": ab - ba}
                )
    return pd.DataFrame(rows, columns=["model_a", "model_b", "g_ab", "g_ba", "asymmetry"])


def generalisation_groups(
    table: pd.DataFrame,
    models: pd.DataFrame,
    by: Sequence[str] = ("pretraining", "task", "seed"),
    *,
    baseline: str = "random",
) -> pd.DataFrame:
    """How well relevance transfers within vs between groups of models.

    `models` has a ``model`` column plus the attributes in `by`.  For each attribute, pairs
    (A, B) of models are "self" (A == B), "same" (A != B, equal attribute) or "different";
    reported per relation: number of pairs, mean and SD of the AUC, and -- when the table has
    the `baseline` source -- the mean gain AUC(A -> B) - AUC(baseline -> B).
    """
    func = "generalisation_groups"
    check_columns(func, "models", models, ["model", *by])
    auc = generalisation_auc(table)
    base = auc[auc["model_a"] == baseline][["model_b", "auc"]]
    rel = auc[~auc["model_a"].isin((*BASELINES, baseline))]
    rel = rel.merge(base.rename(columns={"auc": "auc_baseline"}), on="model_b", how="left")
    rel["gain_over_baseline"] = rel["auc"] - rel["auc_baseline"]
    meta = models.set_index("model")
    missing = sorted((set(rel["model_a"]) | set(rel["model_b"])) - set(meta.index))
    if missing:
        raise fail(func, "models", "a row for every model in the table", f"missing {missing}")
    rows = []
    for attribute in by:
        va = meta.loc[rel["model_a"], attribute].to_numpy()
        vb = meta.loc[rel["model_b"], attribute].to_numpy()
        same_model = rel["model_a"].to_numpy() == rel["model_b"].to_numpy()
        relation = np.where(same_model, "self", np.where(va == vb, "same", "different"))
        for name in ("self", "same", "different"):
            sel = rel[relation == name]
            rows.append(
                {
                    "attribute": attribute,
                    "relation": name,
                    "n_pairs": len(sel),
                    "mean_auc": float(sel["auc"].mean()) if len(sel) else float("nan"),
                    "sd_auc": float(sel["auc"].std(ddof=1)) if len(sel) > 1 else float("nan"),
                    f"mean_gain_over_{baseline}": float(sel["gain_over_baseline"].mean())
                    if len(sel)
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)


_MASS_CHUNK_PIXELS = 4_000_000


def relevance_mass_per_part(
    relevance: np.ndarray,
    part_masks: np.ndarray,
    labels: Mapping[int, str],
    *,
    image_ids: Sequence[str] | None = None,
    positive_only: bool = True,
) -> pd.DataFrame:
    """Share of relevance and of area per labelled part, per image.

    Args:
        relevance: (n_images, H, W) or (H, W) relevance maps (channel-summed).
        part_masks: integer label maps of the same shape, or one (H, W) map for all images.
        labels: label value -> part name; pixels with other labels count as "other".
        positive_only: use max(R, 0) (the evidence *for* the target); else |R|.

    Returns columns image, part, relevance_share, area_share, enrichment (= ratio).
    """
    func = "relevance_mass_per_part"
    rel = np.asarray(relevance)
    if rel.ndim == 2:
        rel = rel[None]
    masks = np.asarray(part_masks)
    if masks.ndim == 2:
        masks = np.broadcast_to(masks, rel.shape)
    if rel.ndim != 3 or masks.shape != rel.shape:
        raise fail(
            func, "part_masks", f"label maps of shape {rel.shape[1:]} or {rel.shape}", masks.shape
        )
    if not np.issubdtype(masks.dtype, np.integer):
        raise fail(func, "part_masks", "integer label maps", masks.dtype)
    n_images = rel.shape[0]
    ids = [str(i) for i in range(n_images)] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != n_images:
        raise fail(func, "image_ids", f"{n_images} ids", len(ids))
    names = [*sorted(set(labels.values())), "other"]
    name_code = {name: c for c, name in enumerate(names)}
    part_mass = np.zeros((n_images, len(names)))
    part_area = np.zeros((n_images, len(names)))
    # a few images at a time: float64 copies and codes of 1,000 maps at 224 px would be GBs
    step = max(1, _MASS_CHUNK_PIXELS // max(1, rel[0].size))
    for start in range(0, n_images, step):
        chunk = slice(start, start + step)
        codes = np.full(masks[chunk].shape, name_code["other"], dtype=np.int64)
        for key, name in labels.items():
            codes[masks[chunk] == key] = name_code[name]
        values = np.asarray(rel[chunk], dtype=float)
        mass = np.maximum(values, 0) if positive_only else np.abs(values)
        rows = len(codes)
        flat = (np.arange(rows)[:, None, None] * len(names) + codes).ravel()
        size = rows * len(names)
        part_mass[chunk] = np.bincount(flat, weights=mass.ravel(), minlength=size).reshape(rows, -1)
        part_area[chunk] = np.bincount(flat, minlength=size).reshape(rows, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = part_mass / part_mass.sum(1, keepdims=True)
        area = part_area / part_area.sum(1, keepdims=True)
        enrichment = share / area
    img, part = np.meshgrid(np.arange(n_images), np.arange(len(names)), indexing="ij")
    out = pd.DataFrame(
        {
            "image": np.asarray(ids, dtype=object)[img.ravel()],
            "part": np.asarray(names, dtype=object)[part.ravel()],
            "relevance_share": share.ravel(),
            "area_share": area.ravel(),
            "enrichment": enrichment.ravel(),
        }
    )
    return out[out["area_share"] > 0].reset_index(drop=True)
