"""Network dissection of several models for a report or a dashboard (pure numpy/pandas).

`dissection_results` pairs every unit of every dissected layer (``pair_units``, with the
model's random-weights copy as the part null), for the trained network and for the random
copy itself, and tabulates units per concept level, unique concepts and the share unpaired;
for the first pair of models per pretraining that share the seed but differ in task it adds
``compare_pairings`` at their deepest common layer (differences in the shares of units per
level and concept with bootstrap intervals over images).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pandas as pd

from analysis.dissection import LEVELS, Dissection, compare_pairings, pair_units, summarise_pairing

NETWORKS = {"model": "trained", "random": "random weights"}


@dataclass(frozen=True)
class DissectionResults:
    """`levels`: model, network, layer, level, units, share; `concepts`: units per paired
    concept; `unique`: unique concepts and share unpaired; `comparison`: the model pairs'
    ``compare_pairings`` rows (with first, second, layer); `examples`: model -> the arrays of
    its artifact holding ``examples/...`` (None where not stored); `top_units`: per model,
    layer and concept its best units (score: IoU, or AUC for global concepts) and what the
    pairing made of each."""

    levels: pd.DataFrame
    concepts: pd.DataFrame
    unique: pd.DataFrame
    comparison: pd.DataFrame | None
    examples: dict[str, dict | None]
    top_units: pd.DataFrame | None = None


@dataclass(frozen=True)
class DissectionInputs:
    """What `analyse_study` needs for its dissection part: model -> `Dissection`, model ->
    pretraining/task/seed, and model -> the artifact's ``examples/...`` arrays."""

    dissections: Mapping[str, Dissection]
    model_info: Mapping[str, Mapping[str, Any]] | None = None
    examples: Mapping[str, dict] | None = None


def dissection_results(
    dissections: Mapping[str, Dissection],
    *,
    model_info: Mapping[str, Mapping[str, Any]] | None = None,
    examples: Mapping[str, dict] | None = None,
    alpha: float = 0.01,
    min_auc: float = 0.75,
    n_permutations: int = 1000,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> DissectionResults:
    """Pairings, their summaries and the task comparisons of `dissections` (model -> its
    `Dissection`); `model_info` gives each model's pretraining, task and seed."""
    levels, concepts, unique, pairings = [], [], [], {}
    for model, dissection in dissections.items():
        for network, label in NETWORKS.items():
            for layer, counts in dissection.counts.get(network, {}).items():
                baseline = dissection.counts.get("random", {}).get(layer)
                pairing = pair_units(
                    counts,
                    dissection.concepts,
                    baseline=baseline,
                    alpha=alpha,
                    min_auc=min_auc,
                    n_permutations=n_permutations,
                    random_state=random_state,
                )
                pairings[(model, network, layer)] = pairing
                summary = summarise_pairing(pairing)
                key = {"model": model, "network": label, "layer": layer}
                for level in LEVELS:
                    n = summary["per_level"][level]
                    levels.append(
                        {**key, "level": level, "units": n, "share": n / summary["units"]}
                    )
                for (level, concept), n in summary["per_concept"].items():
                    concepts.append({**key, "level": level, "concept": concept, "units": n})
                unique.append(
                    {
                        **key,
                        "units": summary["units"],
                        "unique_concepts": summary["unique_concepts"],
                        "share_unpaired": summary["share_unpaired"],
                    }
                )
    comparison = _task_comparisons(
        dissections, pairings, model_info or {}, n_bootstrap=n_bootstrap, seed=random_state
    )
    examples = {model: (examples or {}).get(model) for model in dissections}
    return DissectionResults(
        pd.DataFrame(levels),
        pd.DataFrame(concepts, columns=["model", "network", "layer", "level", "concept", "units"]),
        pd.DataFrame(unique),
        comparison,
        examples,
        _top_units(examples, pairings),
    )


def _top_units(examples: dict[str, dict | None], pairings: dict) -> pd.DataFrame | None:
    """Each stored example unit (one of a concept's best units) beside its pairing."""
    rows = []
    for model, arrays in examples.items():
        for (name, network, layer), pairing in pairings.items():
            prefix = f"examples/{layer}"
            if name != model or network != "model" or not arrays or f"{prefix}/units" not in arrays:
                continue
            decided = pairing.table.set_index("unit")
            for level, concept, unit, score in zip(
                *(arrays[f"{prefix}/{k}"] for k in ("levels", "concepts", "units", "scores")),
                strict=True,
            ):
                rows.append(
                    {
                        "model": model,
                        "layer": layer,
                        "level": str(level),
                        "concept": str(concept),
                        "unit": int(unit),
                        "score": float(score),
                        "paired_level": decided.at[int(unit), "level"],
                        "paired_concept": decided.at[int(unit), "concept"],
                    }
                )
    return pd.DataFrame(rows) if rows else None


def task_pairs(model_info: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Per pretraining, the first pair of models (by name) with the same seed and different
    tasks: the report's comparison of what a task changes."""
    pairs = {}
    for a, b in combinations(sorted(model_info), 2):
        first, second = model_info[a], model_info[b]
        if (
            first.get("pretraining") == second.get("pretraining")
            and first.get("seed") == second.get("seed")
            and first.get("task") != second.get("task")
        ):
            pairs.setdefault(first.get("pretraining"), (a, b))
    return list(pairs.values())


def _task_comparisons(dissections, pairings, model_info, *, n_bootstrap, seed):
    """`compare_pairings` of each task pair at the deepest layer both models have (the
    bootstrap re-decides every unit per draw, so one layer keeps a report's cost bounded)."""
    frames = []
    for first, second in task_pairs({m: i for m, i in model_info.items() if m in dissections}):
        a, b = dissections[first], dissections[second]
        common = [
            layer for layer in a.counts.get("model", {}) if layer in b.counts.get("model", {})
        ]
        if not common or a.record.get("stimulus_ids") != b.record.get("stimulus_ids"):
            continue
        table = compare_pairings(
            pairings[(first, "model", common[-1])],
            pairings[(second, "model", common[-1])],
            n_bootstrap=n_bootstrap,
            random_state=seed,
        )
        frames.append(table.assign(first=first, second=second, layer=common[-1]))
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    return table[["first", "second", "layer", *table.columns[:-3]]]
