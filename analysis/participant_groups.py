"""Analyses per participant group: any participant attribute (e.g. a questionnaire answer).

For one attribute column, each group (one distinct value; participants without a value are
left out and counted) gets its own pooled human matrix, split-half reliability and noise
ceiling (`analysis.reliability`, `analysis.compare`) and model-human comparison
(`analysis.inference.dual_bootstrap`).  Every pair of groups gets the difference in
model-human agreement D = eval_A - eval_B, where a group's evaluation is, as everywhere here,
the mean over its participants of the model's comparison with each participant's matrix.

Test of D: a permutation test over participants.  The group labels of the two groups'
participants are shuffled (group sizes kept) and D recomputed.  Each participant's comparison
does not depend on the labels, so it is computed once (`participant_evaluations`) and every
relabelling is a masked mean.  When there are at most `n_permutations` distinct relabellings,
C(n_A + n_B, n_A), all are enumerated and p is exact (the share with |D*| >= |D|, the observed
labelling included); otherwise `n_permutations` random relabellings give
p = (1 + #{|D*| >= |D|}) / (1 + n_permutations).  Intervals of D are percentile intervals of
the difference over the groups' dual-bootstrap draws, which resample participants within each
group and, with the same draws for every group, the stimuli (and of the participant-only
draws).  p-values are adjusted with Benjamini-Hochberg over all group pairs x models of the
attribute.  Groups with fewer than `MIN_GROUP_PARTICIPANTS` participants have no split-half,
ceiling or comparison; their reliability row says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state, fail
from analysis.compare import (
    ModelInput,
    model_matrices,
    noise_ceiling,
    participant_evaluations,
    split_model_name,
)
from analysis.group_labels import group_labels
from analysis.inference import DualBootstrap, dual_bootstrap, fdr_bh
from analysis.matrices import ParticipantMatrices, SimilarityMatrix
from analysis.reliability import split_half

MIN_GROUP_PARTICIPANTS = 2  # a split-half, a ceiling and a bootstrap need two
NO_VALUE = "(no value)"  # the row that counts analysed participants without a value


@dataclass(frozen=True)
class ParticipantGroups:
    """Everything computed for one attribute column (every table has an `attribute` column).

    matrices: group -> pooled human dissimilarity matrix.
    reliability: one row per group (and one for participants without a value): n_participants,
        split-half summary, noise-ceiling bounds, note.
    comparison: per group, the dual-bootstrap model table (`DualBootstrap.table`) with
        p_zero adjusted by BH-FDR over groups x models (`p_zero_fdr`); None without models.
    differences: per pair of groups and model: both evaluations, D, intervals, permutation p,
        BH-FDR; None without models or with fewer than two comparable groups.
    """

    attribute: str
    matrices: dict[str, SimilarityMatrix]
    reliability: pd.DataFrame
    comparison: pd.DataFrame | None
    differences: pd.DataFrame | None


def group_difference_test(
    values: np.ndarray,
    in_a: np.ndarray,
    *,
    n_permutations: int = 10_000,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Permutation test of the difference of group means (see module docstring).

    values: (n_participants, n_models) per-participant comparisons of the two groups' members,
        NaN where undefined (left out of a mean, as in `analysis.compare.evaluate`).
    in_a: (n_participants,) True for the members of group A.
    Returns (D per model, two-sided p per model, number of relabellings, whether enumerated).
    """
    func = "group_difference_test"
    values = np.asarray(values, dtype=float)
    in_a = np.asarray(in_a)
    if values.ndim != 2 or in_a.shape != (values.shape[0],) or in_a.dtype != bool:
        raise fail(func, "in_a", "a boolean mask with one entry per row of values", in_a.shape)
    n, n_a = len(in_a), int(in_a.sum())
    if not 0 < n_a < n:
        raise fail(func, "in_a", "a mask with members in both groups", f"{n_a} of {n}")
    n_permutations = check_int(func, "n_permutations", n_permutations, minimum=1)
    exact = comb(n, n_a) <= n_permutations
    if exact:
        labellings = np.zeros((comb(n, n_a), n), dtype=bool)
        for row, members in enumerate(combinations(range(n), n_a)):
            labellings[row, list(members)] = True
    else:
        rng = check_random_state(func, random_state)
        labellings = rng.permuted(np.tile(in_a, (n_permutations, 1)), axis=1)
    observed = _mean_difference(values, in_a[None])[0]
    null = _mean_difference(values, labellings)
    tol = 1e-12 * np.maximum(1.0, np.abs(observed))
    extreme = (np.abs(null) >= np.abs(observed) - tol).sum(0)
    p = extreme / len(null) if exact else (extreme + 1) / (len(null) + 1)
    p = np.where(np.isnan(observed), np.nan, p)
    return observed, p, len(labellings), exact


def _mean_difference(values: np.ndarray, labellings: np.ndarray) -> np.ndarray:
    """(k, n_models) mean over the True participants minus mean over the False ones."""
    ok = ~np.isnan(values)
    filled = np.where(ok, values, 0.0)
    a = labellings.astype(float)
    b = 1.0 - a
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a @ filled) / (a @ ok) - (b @ filled) / (b @ ok)


def participant_group_analysis(
    human: ParticipantMatrices,
    attributes: pd.DataFrame,
    column: str,
    models: Mapping[str, ModelInput] | None = None,
    *,
    method: str = "spearman",
    n_boot: int = 1000,
    n_permutations: int = 10_000,
    n_splits: int = 100,
    level: float = 0.95,
    random_state=None,
) -> ParticipantGroups:
    """Per-group matrices, reliability and model comparison, and the between-group
    differences of one attribute column (see module docstring)."""
    func = "participant_group_analysis"
    n_boot = check_int(func, "n_boot", n_boot, minimum=2)
    rng = check_random_state(func, random_state)
    human = human.dissimilarity()
    labels = group_labels(attributes, "participant", human.participants, column)
    names = sorted(labels.dropna().unique())
    if not names:
        raise fail(func, "attributes", f"a value of {column!r} for an analysed participant", 0)
    members = {g: list(labels.index[labels == g]) for g in names}
    matrices = {g: human.subset(m).group().renamed(g) for g, m in members.items()}
    reliability = [
        _reliability(human.subset(m), g, method, n_splits, rng) for g, m in members.items()
    ]
    missing = int(labels.isna().sum())
    if missing:
        reliability.append(
            {"group": NO_VALUE, "n_participants": missing, "note": "not in any group"}
        )
    reliability = pd.DataFrame(reliability)
    reliability.insert(0, "attribute", column)
    comparison = differences = None
    enough = {g: m for g, m in members.items() if len(m) >= MIN_GROUP_PARTICIPANTS}
    if models and enough:
        aligned = model_matrices(models, human.stimuli)
        stim = rng.integers(0, human.n_stimuli, size=(n_boot, human.n_stimuli))
        duals = {
            g: dual_bootstrap(
                aligned,
                human.subset(m),
                method,
                n_boot=n_boot,
                stimulus_indices=stim,
                participant_indices=rng.integers(0, len(m), size=(n_boot, len(m))),
            )
            for g, m in enough.items()
        }
        comparison = pd.concat(
            [d.table(level).assign(group=g) for g, d in duals.items()], ignore_index=True
        )
        comparison.insert(0, "attribute", column)
        comparison.insert(1, "group", comparison.pop("group"))
        comparison["p_zero_fdr"] = fdr_bh(comparison["p_zero"].to_numpy())
        if len(enough) >= 2:
            values = participant_evaluations(aligned, human, method)
            differences = _differences(
                values, enough, duals, level=level, n_permutations=n_permutations, rng=rng
            )
            differences.insert(0, "attribute", column)
    return ParticipantGroups(column, matrices, reliability, comparison, differences)


def _reliability(group: ParticipantMatrices, name: str, method: str, n_splits: int, rng) -> dict:
    """One group's split-half summary and noise ceiling, or why it has none."""
    row = {"group": name, "n_participants": group.n_participants}
    if group.n_participants < MIN_GROUP_PARTICIPANTS:
        row["note"] = (
            f"{group.n_participants} participant: too few for a split-half, a noise ceiling "
            f"or a comparison (needs {MIN_GROUP_PARTICIPANTS})"
        )
        return row
    seed = int(rng.integers(2**32))
    row.update(split_half(group, method, n_splits=n_splits, random_state=seed).summary())
    ceiling = noise_ceiling(group, method)
    row.update(
        noise_ceiling_lower=ceiling.lower, noise_ceiling_upper=ceiling.upper, note=ceiling.note
    )
    return row


def _differences(
    values: pd.DataFrame,
    members: dict[str, list[str]],
    duals: dict[str, DualBootstrap],
    *,
    level: float,
    n_permutations: int,
    rng,
) -> pd.DataFrame:
    """One row per pair of groups and model: evaluations, D, intervals, permutation p."""
    tail = (1 - level) / 2
    rows = []
    for a, b in combinations(members, 2):
        both = values.loc[members[a] + members[b]].to_numpy()
        in_a = np.arange(len(both)) < len(members[a])
        diff, p, n_labellings, exact = group_difference_test(
            both, in_a, n_permutations=n_permutations, random_state=rng
        )
        intervals = {
            scheme: np.nanquantile(
                getattr(duals[a], scheme).evaluations - getattr(duals[b], scheme).evaluations,
                [tail, 1 - tail],
                axis=0,
            )
            for scheme in ("both", "participants")
        }
        for k, name in enumerate(values.columns):
            model, layer = split_model_name(name)
            rows.append(
                {
                    "group_a": a,
                    "group_b": b,
                    "model": model,
                    "layer": layer,
                    "method": duals[a].method,
                    "n_a": len(members[a]),
                    "n_b": len(members[b]),
                    "evaluation_a": duals[a].estimate[k],
                    "evaluation_b": duals[b].estimate[k],
                    "difference": diff[k],
                    "ci_low": intervals["both"][0, k],
                    "ci_high": intervals["both"][1, k],
                    "ci_low_participants": intervals["participants"][0, k],
                    "ci_high_participants": intervals["participants"][1, k],
                    "p_permutation": p[k],
                    "n_relabellings": n_labellings,
                    "exact": exact,
                }
            )
    table = pd.DataFrame(rows)
    table["p_fdr"] = fdr_bh(table["p_permutation"].to_numpy())
    return table
