"""The claims of Crawford et al. (2020), measured on the models given and judged by the data.

`replication_analysis` runs the inference of `analysis.generalisation_inference` and
`analysis.map_comparison` on one set of inputs (the same image-bootstrap seed for all);
`replication_claims` turns its tables into one row per claim: the measured effect, its
interval, the test and a verdict -- "supported", "not supported" or "inconclusive" -- with
the rule that decided it.  The rules (`MARGIN`, `ALPHA`) are fixed in advance; nothing forces
the paper's answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.generalisation_inference import (
    CrossCorrect,
    asymmetry_intervals,
    auc_draws,
    cell_intervals,
    factor_contrasts,
)
from analysis.map_comparison import compare_maps

MARGIN = 0.05  # |difference| below this counts as negligible (accuracy range: 2 x MARGIN)
ALPHA = 0.05
ORDER = ("seed", "task", "pretraining")  # the paper's ordering: seed >= task >> pretraining


@dataclass(frozen=True)
class Replication:
    """Tables of `replication_analysis`; None where their inputs were not given."""

    models: tuple[str, ...]
    accuracy: pd.DataFrame | None  # model, accuracy, ci_low, ci_high (unmasked images)
    accuracy_range: dict | None  # estimate, ci_low, ci_high of max - min accuracy
    cells: pd.DataFrame | None
    asymmetry: pd.DataFrame | None
    levels: pd.DataFrame | None
    contrasts: pd.DataFrame | None
    map_pairs: pd.DataFrame | None
    map_relations: pd.DataFrame | None
    consensus: dict[str, np.ndarray] | None
    consensus_share: pd.DataFrame | None
    consensus_parts: pd.DataFrame | None
    model_info: pd.DataFrame | None
    claims: pd.DataFrame


def replication_analysis(
    cross: CrossCorrect | None,
    info: pd.DataFrame | None = None,
    *,
    maps: Mapping[str, np.ndarray] | None = None,
    part_masks: np.ndarray | None = None,
    part_labels: Mapping[int, str] | None = None,
    decision_weighting: pd.DataFrame | None = None,
    factors: Sequence[str] = ORDER,
    top_fraction: float = 0.1,
    n_boot: int = 1000,
    n_permutations: int = 10_000,
    level: float = 0.95,
    random_state: int | None = None,
) -> Replication:
    """Every table of the replication section from the inputs that exist.

    `info`: model + attribute columns (pretraining, task, seed, ...); the `factors` it has
    are compared ("only <factor>" pairs agree on every other factor), the paper's `ORDER`
    among them tested as ordered contrasts.  `maps`: model -> relevance maps (N, H, W) on the
    same images.
    """
    seed = np.random.SeedSequence(random_state).generate_state(1)[0]
    factors = [f for f in factors if info is not None and f in info.columns]
    acc = acc_range = cells = asym = levels = contrasts = None
    if cross is not None:
        point, boot, counts = auc_draws(cross, n_boot, seed)
        cells = cell_intervals(cross, point, boot, level=level)
        asym = asymmetry_intervals(cross, point, boot, level=level)
        if info is not None and "random" in cross.sources:
            levels, contrasts = factor_contrasts(
                cross,
                point,
                boot,
                info,
                factors,
                order=[f for f in ORDER if f in factors],
                n_permutations=n_permutations,
                level=level,
                random_state=seed,
            )
        if cross.unmasked_correct is not None:
            acc, acc_range = _accuracy(cross, counts, level)
    compared = None
    if maps is not None and len(maps) >= 2:
        compared = compare_maps(
            maps,
            info,
            factors,
            part_masks=part_masks,
            part_labels=part_labels,
            top_fraction=top_fraction,
            n_boot=n_boot,
            level=level,
            random_state=seed,
        )
    claims = replication_claims(
        accuracy_range=acc_range,
        levels=levels,
        contrasts=contrasts,
        asymmetry=asym,
        consensus_share=compared and compared.consensus_share,
        decision_weighting=decision_weighting,
    )
    return Replication(
        models=cross.models if cross is not None else tuple(maps or ()),
        accuracy=acc,
        accuracy_range=acc_range,
        cells=cells,
        asymmetry=asym,
        levels=levels,
        contrasts=contrasts,
        map_pairs=compared and compared.pairs,
        map_relations=compared and compared.relations,
        consensus=compared and compared.consensus,
        consensus_share=compared and compared.consensus_share,
        consensus_parts=compared and compared.consensus_parts,
        model_info=info,
        claims=claims,
    )


def _accuracy(cross: CrossCorrect, counts: np.ndarray, level: float):
    """Unmasked accuracy per model and the range max - min, intervals from the same draws."""
    correct = np.asarray(cross.unmasked_correct, dtype=float)
    boot = counts @ correct.T / correct.shape[1]  # (B, M)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(boot, [tail, 100 - tail], axis=0)
    table = pd.DataFrame(
        {"model": cross.models, "accuracy": correct.mean(1), "ci_low": low, "ci_high": high}
    )
    spread = boot.max(1) - boot.min(1)
    r_low, r_high = np.percentile(spread, [tail, 100 - tail])
    estimate = float(table["accuracy"].max() - table["accuracy"].min())
    return table, {"estimate": estimate, "ci_low": r_low, "ci_high": r_high}


def _verdict_positive(estimate, low, high) -> tuple[str, str]:
    """An effect predicted to be > 0: interval above 0 (supported), below 0 or within
    +-MARGIN of 0 (not supported), else around 0 (inconclusive)."""
    if not np.isfinite([estimate, low, high]).all():
        return "inconclusive", "no interval could be computed"
    if low > 0:
        return "supported", "the interval lies above 0"
    if high < 0:
        return "not supported", "the interval lies below 0 (the opposite direction)"
    if high < MARGIN:
        return "not supported", f"the interval lies within +-{MARGIN} of 0 (negligible)"
    return "inconclusive", "the interval includes 0"


def _row(claim, effect, values, test, verdict) -> dict:
    estimate, low, high, p = values
    return {
        "claim": claim,
        "effect": effect,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "p": p,
        "test": test,
        "verdict": verdict[0],
        "reason": verdict[1],
    }


_MISSING = (np.nan, np.nan, np.nan, np.nan)


def replication_claims(
    *,
    accuracy_range: dict | None,
    levels: pd.DataFrame | None,
    contrasts: pd.DataFrame | None,
    asymmetry: pd.DataFrame | None,
    consensus_share: pd.DataFrame | None,
    decision_weighting: pd.DataFrame | None,
) -> pd.DataFrame:
    """One row per claim of the paper: effect, estimate, interval, p, test, verdict, reason."""
    boot = "image bootstrap (percentile interval, two-sided p)"
    rows = [_accuracy_claim(accuracy_range)]
    for claim, relation, effect in (
        (
            "Masking by a model's own relevance hurts it more than random masking",
            "self",
            "transfer of a model's own relevance (AUC gain over random masks, sign-adjusted)",
        ),
        (
            "Relevance is stable across seeds",
            "only seed",
            "transfer between models that differ only in seed",
        ),
        (
            "Relevance generalises across tasks",
            "only task",
            "transfer between models that differ only in task",
        ),
    ):
        found = None if levels is None else levels[levels["relation"] == relation]
        if found is None or found.empty or found["n_pairs"].iloc[0] == 0:
            rows.append(_row(claim, effect, _MISSING, boot, _not_measured(relation)))
            continue
        r = found.iloc[0]
        values = (r["transfer"], r["ci_low"], r["ci_high"], r["p"])
        rows.append(_row(claim, effect, values, boot, _verdict_positive(*values[:3])))
    rows.append(_pretraining_claim(contrasts))
    rows.append(_asymmetry_claim(asymmetry))
    rows.append(_consensus_claim(consensus_share))
    rows.append(_weighting_claim(decision_weighting))
    return pd.DataFrame(rows)


def _not_measured(what: str) -> tuple[str, str]:
    return "inconclusive", f"not measured: the design has no {what} comparison"


def _accuracy_claim(spread: dict | None) -> dict:
    claim = "Classification accuracy is comparable across models"
    effect = "range (max - min) of accuracy on the unmasked images"
    test = f"image bootstrap of the range; comparable = below {2 * MARGIN:.2f}"
    if spread is None:
        return _row(claim, effect, _MISSING, test, _not_measured("per-image accuracy"))
    values = (spread["estimate"], spread["ci_low"], spread["ci_high"], np.nan)
    if spread["ci_high"] < 2 * MARGIN:
        verdict = ("supported", f"the whole interval is below {2 * MARGIN:.2f}")
    elif spread["ci_low"] > 2 * MARGIN:
        verdict = ("not supported", f"the whole interval is above {2 * MARGIN:.2f}")
    else:
        verdict = ("inconclusive", f"the interval straddles {2 * MARGIN:.2f}")
    return _row(claim, effect, values, test, verdict)


def _pretraining_claim(contrasts: pd.DataFrame | None) -> dict:
    claim = "Relevance generalises much less across pretraining than across tasks"
    effect = "transfer (only task) - transfer (only pretraining)"
    test = "one-sided permutation test over model labels, BH-FDR over the ordered contrasts"
    found = None if contrasts is None else contrasts[contrasts["contrast"] == "task - pretraining"]
    if found is None or found.empty:
        return _row(claim, effect, _MISSING, test, _not_measured("task vs pretraining"))
    r = found.iloc[0]
    values = (r["difference"], r["ci_low"], r["ci_high"], r["p_fdr"])
    if r["ci_low"] > 0 and r["p_fdr"] < ALPHA:
        verdict = ("supported", f"interval above 0 and FDR p < {ALPHA}")
    elif r["ci_high"] < 0:
        verdict = ("not supported", "pretraining transfers more than task (interval below 0)")
    elif r["ci_low"] > 0:
        verdict = (
            "inconclusive",
            f"interval above 0, but the permutation test over model labels gives FDR p >= "
            f"{ALPHA}: too few models to tell the factor from the particular models",
        )
    else:
        verdict = ("inconclusive", "the interval includes 0")
    return _row(claim, effect, values, test, verdict)


def _asymmetry_claim(asymmetry: pd.DataFrame | None) -> dict:
    claim = "Generalisation is asymmetric (G[A,B] != G[B,A])"
    effect = "G[A,B] - G[B,A] (AUC) of the most asymmetric model pair"
    test = "image bootstrap per pair, two-sided p, BH-FDR over pairs"
    if asymmetry is None or asymmetry.empty:
        return _row(claim, effect, _MISSING, test, _not_measured("model pair"))
    r = asymmetry.loc[asymmetry["asymmetry"].abs().idxmax()]
    values = (r["asymmetry"], r["ci_low"], r["ci_high"], r["p_fdr"])
    n_sig = int((asymmetry["p_fdr"] < ALPHA).sum())
    if n_sig:
        verdict = ("supported", f"{n_sig} of {len(asymmetry)} pairs asymmetric at FDR {ALPHA}")
    elif (asymmetry["ci_low"] > -MARGIN).all() and (asymmetry["ci_high"] < MARGIN).all():
        verdict = ("not supported", f"every pair's interval lies within +-{MARGIN}")
    else:
        verdict = (
            "inconclusive",
            f"no pair is asymmetric at FDR {ALPHA}, but some intervals reach beyond +-{MARGIN}",
        )
    return _row(claim, effect, values, test, verdict)


def _consensus_claim(share: pd.DataFrame | None) -> dict:
    claim = "Models share a core of relevant pixels"
    effect = "share of a model's top-k pixels in the top-k of every model (vs chance f^(M-1))"
    test = "image bootstrap interval compared with the chance share"
    found = None if share is None else share[share["consensus"] == "all models"]
    if found is None or found.empty:
        return _row(claim, effect, _MISSING, test, _not_measured("relevance-map"))
    r = found.iloc[0]
    values = (r["share_of_top_k"], r["ci_low"], r["ci_high"], np.nan)
    if r["ci_low"] > r["chance"]:
        verdict = ("supported", f"interval above chance ({r['chance']:.3g})")
    elif r["ci_high"] <= r["chance"]:
        verdict = ("not supported", f"interval not above chance ({r['chance']:.3g})")
    else:
        verdict = ("inconclusive", f"interval includes chance ({r['chance']:.3g})")
    return _row(claim, effect, values, test, verdict)


def _weighting_claim(weighting: pd.DataFrame | None) -> dict:
    claim = "Model decision weighting relates to human similarity"
    effect = (
        "model-human agreement on relevance-masked minus random-masked images, mean "
        "over models and k (intervals per row in the decision-weighting table)"
    )
    test = "stimulus bootstrap interval per model and k; the majority of rows decides"
    needed = {"minus_random", "minus_random_ci_low", "minus_random_ci_high"}
    if weighting is None or not needed <= set(weighting.columns):
        return _row(claim, effect, _MISSING, test, _not_measured("decision-weighting"))
    rows = weighting.dropna(subset=sorted(needed))
    if rows.empty:
        return _row(claim, effect, _MISSING, test, _not_measured("decision-weighting"))
    above = int((rows["minus_random_ci_low"] > 0).sum())
    below = int((rows["minus_random_ci_high"] < 0).sum())
    values = (rows["minus_random"].mean(), np.nan, np.nan, np.nan)
    counted = f"{above} of {len(rows)} (model, k) intervals above 0, {below} below"
    if above > len(rows) / 2:
        verdict = ("supported", counted)
    elif below > len(rows) / 2:
        verdict = ("not supported", counted + " (relevance masks agree less than random)")
    else:
        verdict = ("inconclusive", counted)
    return _row(claim, effect, values, test, verdict)
