"""Verdicts of the relevance sanity checks (computed by ``modelsvc.sanity``) per model and method.

Cascading randomisation (Adebayo et al. 2018) *passes* when the maps of the fully randomised
model have little left of the original maps: mean Spearman rho of the absolute maps below
`randomisation_limit` (0.5) after the last layer was re-initialised.  Input invariance
(Kindermans et al. 2019) *passes* when a constant input shift that the model cannot see leaves
the maps as they were: mean signed Spearman rho at least `invariance_limit` (0.95).  Each
model and method gets one sentence that says which checks it passes, with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis._checks import check_real, fail

KEYS = ["model", "method"]
SIMILARITIES = ["spearman_abs", "spearman_signed", "ssim", "top_iou"]
RANDOMISATION_COLUMNS = [*KEYS, "step", "layer", *SIMILARITIES]
INVARIANCE_COLUMNS = [*KEYS, *SIMILARITIES, "max_logit_change"]


@dataclass(frozen=True)
class SanityChecks:
    """The randomisation curves (a row per model, method and step), the shift check (a row per
    model and method) and the verdicts with their sentences."""

    randomisation: pd.DataFrame
    invariance: pd.DataFrame
    verdicts: pd.DataFrame


def sanity_verdicts(
    randomisation: pd.DataFrame,
    invariance: pd.DataFrame,
    *,
    randomisation_limit: float = 0.5,
    invariance_limit: float = 0.95,
) -> SanityChecks:
    """Pass/fail per model and method from the two checks' tables (columns as ``modelsvc``
    gives them, with ``model`` and ``method`` added)."""
    func = "sanity_verdicts"
    for name, frame, columns in (
        ("randomisation", randomisation, RANDOMISATION_COLUMNS),
        ("invariance", invariance, INVARIANCE_COLUMNS),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise fail(func, name, f"a table with the columns {columns}", missing)
    check_real(func, "randomisation_limit", randomisation_limit, low=-1, high=1)
    check_real(func, "invariance_limit", invariance_limit, low=-1, high=1)
    last = randomisation.sort_values("step").groupby(KEYS, sort=False).tail(1)
    verdicts = last[[*KEYS, "layer", "step", "spearman_abs"]].merge(
        invariance[[*KEYS, "spearman_signed"]], on=KEYS, how="outer"
    )
    verdicts = verdicts.rename(
        columns={
            "layer": "last_layer",
            "step": "layers_randomised",
            "spearman_abs": "randomised_spearman_abs",
            "spearman_signed": "shifted_spearman_signed",
        }
    )
    verdicts["randomisation_passes"] = verdicts["randomised_spearman_abs"] < randomisation_limit
    verdicts["invariance_passes"] = verdicts["shifted_spearman_signed"] >= invariance_limit
    verdicts["sentence"] = [
        _sentence(row, randomisation_limit, invariance_limit) for row in verdicts.itertuples()
    ]
    return SanityChecks(
        randomisation=randomisation[RANDOMISATION_COLUMNS].reset_index(drop=True),
        invariance=invariance[INVARIANCE_COLUMNS].reset_index(drop=True),
        verdicts=verdicts.sort_values(KEYS).reset_index(drop=True),
    )


def _sentence(row, randomisation_limit: float, invariance_limit: float) -> str:
    parts = []
    if pd.notna(row.randomised_spearman_abs):
        parts.append(
            f"cascading randomisation {'passes' if row.randomisation_passes else 'fails'} "
            f"(Spearman of the absolute maps {row.randomised_spearman_abs:.2f} after all "
            f"{int(row.layers_randomised)} layers were randomised; passes below "
            f"{randomisation_limit:g})"
        )
    if pd.notna(row.shifted_spearman_signed):
        parts.append(
            f"input invariance {'passes' if row.invariance_passes else 'fails'} (signed "
            f"Spearman {row.shifted_spearman_signed:.2f} after a shift the model cannot see; "
            f"passes at {invariance_limit:g} or more)"
        )
    return f"{row.model}, {row.method}: " + "; ".join(parts) + "."
