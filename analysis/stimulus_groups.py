"""Bias across stimulus groups: any label column of the stimuli (e.g. the face's gender).

* Within vs between: each model's agreement with the humans (mean over participants of the
  comparison with each participant's matrix, `analysis.compare`) restricted to the pairs of
  two stimuli of the same group ("within", and per group "within <g>") or of different groups
  ("between"); the restriction is a 0/1 pair weight, so the evaluation engine and its noise
  ceilings are reused as they are.  Intervals: percentile intervals over draws that resample
  participants and, within each group, the stimuli (group sizes kept), the same draws for
  every pair set; the contrast within - between has its interval and a two-sided bootstrap p
  over those draws, BH-FDR across models.  Stimuli without a label take part in no pair set.
* Accuracy per group: from a predictions table (stimulus, model, predicted, true; optional
  task), each model's accuracy on each group's stimuli with a Wilson interval
  (statsmodels), and its worst-group accuracy: the lowest group accuracy, which group it
  is, and the gap to the best group.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis._checks import check_columns, check_int, check_random_state, check_real, fail
from analysis.compare import ModelInput, _engine, split_model_name
from analysis.group_labels import group_labels
from analysis.inference import (
    _two_sided_bootstrap_p,
    draw_counts,
    fdr_bh,
    stimulus_pair_weights,
)
from analysis.matrices import ParticipantMatrices, upper_indices

PREDICTION_COLUMNS = ("stimulus", "model", "predicted", "true")
MIN_PAIRS = 3  # fewest pairs a pair set is compared on (fewer: its row is NaN)


def pair_sets(groups: pd.Series) -> dict[str, np.ndarray]:
    """0/1 pair masks (upper-triangle order) of "within", "between" and "within <g>" for
    each group g, from per-stimulus groups (NaN: in no set)."""
    rows, cols = upper_indices(len(groups))
    g = groups.to_numpy(dtype=object)
    labelled = groups.notna().to_numpy()
    both = labelled[rows] & labelled[cols]
    same = both & (g[rows] == g[cols])
    sets = {"within": same, "between": both & ~same}
    for name in sorted(groups.dropna().unique()):
        sets[f"within {name}"] = same & (g[rows] == name)
    return {k: v.astype(float) for k, v in sets.items()}


def stratified_draws(groups: pd.Series, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) stimulus indices resampled with replacement within each group (stimuli
    without a group form one more stratum)."""
    codes = groups.fillna("\0").to_numpy(dtype=str)
    draws = np.empty((n_boot, len(codes)), dtype=np.int64)
    for code in np.unique(codes):
        members = np.flatnonzero(codes == code)
        draws[:, members] = rng.choice(members, size=(n_boot, len(members)))
    return draws


def within_between_agreement(
    models: Mapping[str, ModelInput],
    human: ParticipantMatrices,
    labels: pd.DataFrame,
    column: str,
    *,
    method: str = "spearman",
    n_boot: int = 1000,
    level: float = 0.95,
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model-human agreement on within-group and between-group pairs (module docstring).

    Returns (agreement: one row per model and pair set -- n_pairs, evaluation, interval,
    noise-ceiling bounds on those pairs; contrast: one row per model -- within, between,
    difference, interval, bootstrap p, BH-FDR)."""
    func = "within_between_agreement"
    n_boot = check_int(func, "n_boot", n_boot, minimum=2)
    level = check_real(func, "level", level, low=0, high=1, low_open=True, high_open=True)
    rng = check_random_state(func, random_state)
    groups = group_labels(labels, "stimulus", human.stimuli, column)
    if groups.nunique() < 2:
        raise fail(func, "labels", f"at least two groups of {column!r} among the stimuli", 0)
    names, engine = _engine(models, human, method)
    part = rng.integers(0, human.n_participants, size=(n_boot, human.n_participants))
    pair_w = stimulus_pair_weights(stratified_draws(groups, n_boot, rng), human.n_stimuli)
    part_w = draw_counts(part, human.n_participants)
    ones = np.ones((1, human.n_participants))
    tail = (1 - level) / 2
    rows, boots = [], {}
    for pairs, mask in pair_sets(groups).items():
        if mask.sum() < MIN_PAIRS:  # e.g. a group of one stimulus: nothing to correlate
            estimate, ceiling = np.full((1, len(names)), np.nan), np.full((1, 2), np.nan)
            boots[pairs] = np.full((n_boot, len(names)), np.nan)
            low = high = np.full(len(names), np.nan)
        else:
            estimate, ceiling = engine.run(mask[None], ones)
            boots[pairs], _ = engine.run(pair_w * mask, part_w, ceiling=False)
            low, high = np.nanquantile(boots[pairs], [tail, 1 - tail], axis=0)
        for k, name in enumerate(names):
            model, layer = split_model_name(name)
            rows.append(
                {
                    "attribute": column,
                    "model": model,
                    "layer": layer,
                    "method": method,
                    "pairs": pairs,
                    "n_pairs": int(mask.sum()),
                    "evaluation": estimate[0, k],
                    "ci_low": low[k],
                    "ci_high": high[k],
                    "noise_ceiling_lower": ceiling[0, 0],
                    "noise_ceiling_upper": ceiling[0, 1],
                }
            )
    agreement = pd.DataFrame(rows)
    return agreement, _contrast(agreement, boots, column, method, tail)


def _contrast(agreement, boots, column, method, tail) -> pd.DataFrame:
    """Within - between per model, with the bootstrap interval and p of the difference."""
    rows = []
    by_set = agreement.set_index(["pairs", "model", "layer"])["evaluation"]
    diff_draws = boots["within"] - boots["between"]
    defined = ~np.isnan(diff_draws).all(0)
    low = high = np.full(diff_draws.shape[1], np.nan)
    if defined.all():
        low, high = np.nanquantile(diff_draws, [tail, 1 - tail], axis=0)
    for k, (model, layer) in enumerate(
        agreement.loc[agreement["pairs"] == "within", ["model", "layer"]].itertuples(index=False)
    ):
        within, between = by_set[("within", model, layer)], by_set[("between", model, layer)]
        rows.append(
            {
                "attribute": column,
                "model": model,
                "layer": layer,
                "method": method,
                "within": within,
                "between": between,
                "difference": within - between,
                "ci_low": low[k],
                "ci_high": high[k],
                "p_bootstrap": _two_sided_bootstrap_p(diff_draws[:, k]) if defined[k] else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    table["p_fdr"] = fdr_bh(table["p_bootstrap"].to_numpy())
    return table


def group_accuracy(
    predictions: pd.DataFrame, labels: pd.DataFrame, column: str, *, level: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each model's accuracy per stimulus group and its worst group (module docstring).

    predictions: one row per stimulus and model (and task, when a `task` column is given):
        stimulus, model, predicted, true.  Stimuli without a group are left out.
    Returns (per group: model[, task], group, n, n_correct, accuracy, ci_low, ci_high;
    per model: overall accuracy, n_groups, worst_group, worst_accuracy, its interval,
    best_accuracy, gap = best - worst).
    """
    func = "group_accuracy"
    check_columns(func, "predictions", predictions, PREDICTION_COLUMNS)
    level = check_real(func, "level", level, low=0, high=1, low_open=True, high_open=True)
    keys = ["model", "task"] if "task" in predictions.columns else ["model"]
    if predictions.duplicated([*keys, "stimulus"]).any():
        raise fail(func, "predictions", f"one row per {', '.join(keys)} and stimulus", "duplicates")
    frame = predictions.assign(stimulus=predictions["stimulus"].astype(str))
    groups = group_labels(labels, "stimulus", frame["stimulus"].unique(), column)
    frame = frame.assign(group=frame["stimulus"].map(groups)).dropna(subset=["group"])
    if frame.empty:
        raise fail(func, "labels", f"a {column!r} label for a predicted stimulus", 0)
    frame["correct"] = frame["predicted"].astype(str) == frame["true"].astype(str)
    per = frame.groupby([*keys, "group"])["correct"].agg(n="size", n_correct="sum").reset_index()
    per["accuracy"] = per["n_correct"] / per["n"]
    low, high = proportion_confint(per["n_correct"], per["n"], alpha=1 - level, method="wilson")
    # Wilson bounds are exactly 0 with no hits and 1 with no misses (statsmodels rounds)
    per["ci_low"] = np.where(per["n_correct"] == 0, 0.0, low)
    per["ci_high"] = np.where(per["n_correct"] == per["n"], 1.0, high)
    per.insert(0, "attribute", column)
    overall = frame.groupby(keys)["correct"].mean()
    rows = []
    for key, block in per.groupby(keys, sort=True):
        worst = block.loc[block["accuracy"].idxmin()]
        best = block["accuracy"].max()
        rows.append(
            {
                "attribute": column,
                **dict(zip(keys, key, strict=True)),
                "accuracy": float(overall.loc[key if len(keys) > 1 else key[0]]),
                "n_groups": len(block),
                "worst_group": worst["group"],
                "worst_accuracy": worst["accuracy"],
                "worst_ci_low": worst["ci_low"],
                "worst_ci_high": worst["ci_high"],
                "best_accuracy": best,
                "gap": best - worst["accuracy"],
            }
        )
    return per, pd.DataFrame(rows)
