"""Model predictions of human choices, scored against the human ceiling.

A model predicts the odd one out of a triplet as the item outside its most similar pair (the
pair with the smallest model dissimilarity); on 2AFC trials it picks the candidate closer to
the reference.  Ties split the credit.  Accuracy is reported with a bootstrap interval over
participants, chance (1/3 triplets, 1/2 2AFC) and, when a majority-agreement ceiling is given,
its band (leave-one-response-out lower, majority upper bound), the accuracy on the repeated
triplets the ceiling was measured on, and the share of the way from chance to the upper bound,
``(accuracy - chance) / (ceiling_upper - chance)``.  For choice data this is the model-to-
ceiling comparison that stays defined when participants share too few pairs for per-pair noise
ceilings.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state
from analysis.compare import ModelInput, model_matrices, split_model_name
from analysis.reliability import MajorityCeiling, _triplet_keys


def predicted_correct(dissimilarity: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Per trial: 1 if the model's most similar candidate pair is the pair kept together,
    1/k when k candidate pairs tie, else 0."""
    i, j, odd = (table[c].to_numpy(np.int64) for c in ("i", "j", "odd"))
    afc = table["trial_type"].to_numpy() == "afc"
    d = np.stack([dissimilarity[i, j], dissimilarity[i, odd], dissimilarity[j, odd]], 1)
    d[afc, 2] = np.inf  # (j, odd) was not a candidate on 2AFC trials
    best = d.min(1, keepdims=True)
    tied = np.isclose(d, best, rtol=1e-12, atol=0.0)
    return tied[:, 0] / tied.sum(1)


def model_choice_accuracy(
    models: Mapping[str, ModelInput],
    table: pd.DataFrame,
    stimuli,
    *,
    ceiling: MajorityCeiling | None = None,
    n_boot: int = 1000,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Accuracy of each model's choice predictions on a `choice_table`.

    Columns: model, layer, accuracy, ci_low, ci_high (95 % participant bootstrap), chance,
    n_trials, and with a ceiling: ceiling_lower, ceiling_upper, accuracy_on_ceiling_set (trials
    of the triplets the ceiling used) and relative_to_ceiling.
    """
    n_boot = check_int("model_choice_accuracy", "n_boot", n_boot, minimum=1)
    rng = check_random_state("model_choice_accuracy", random_state)
    aligned = model_matrices(models, stimuli)
    participant, p_codes = np.unique(table["participant"].to_numpy(dtype=str), return_inverse=True)
    n_trials = np.bincount(p_codes, minlength=len(participant)).astype(float)
    draws = rng.integers(0, len(participant), size=(n_boot, len(participant)))
    draw_counts = np.stack([np.bincount(d, minlength=len(participant)) for d in draws])
    afc = table["trial_type"].to_numpy() == "afc"
    chance = float(np.mean(np.where(afc, 0.5, 1.0 / 3.0)))
    in_ceiling = _in_ceiling_set(table, ceiling) if ceiling is not None else None
    rows = []
    for name, matrix in aligned.items():
        hits = predicted_correct(matrix.values, table)
        per_participant = np.bincount(p_codes, weights=hits, minlength=len(participant))
        boot = (draw_counts @ per_participant) / (draw_counts @ n_trials)
        model, layer = split_model_name(name)
        row = {
            "model": model,
            "layer": layer,
            "accuracy": float(hits.mean()),
            "ci_low": float(np.percentile(boot, 2.5)),
            "ci_high": float(np.percentile(boot, 97.5)),
            "chance": chance,
            "n_trials": len(hits),
        }
        if ceiling is not None:
            row["ceiling_lower"] = ceiling.lower
            row["ceiling_upper"] = ceiling.accuracy
            on_set = float(hits[in_ceiling].mean()) if in_ceiling.any() else float("nan")
            row["accuracy_on_ceiling_set"] = on_set
            row["relative_to_ceiling"] = (row["accuracy"] - chance) / (ceiling.accuracy - chance)
        rows.append(row)
    return pd.DataFrame(rows)


def _in_ceiling_set(table: pd.DataFrame, ceiling: MajorityCeiling) -> np.ndarray:
    keys = _triplet_keys(table)[["a", "b", "c", "trial_type"]]
    used = ceiling.triplets[["a", "b", "c", "trial_type"]].assign(_hit=True)
    return keys.merge(used, how="left", on=["a", "b", "c", "trial_type"])["_hit"].notna().to_numpy()
