"""Compare dissimilarity matrices: single comparisons, model evaluations, noise ceilings.

Methods (all on the upper triangle, pairs missing on either side left out):

* ``"pearson"``  -- Pearson correlation (rsatoolbox ``"corr"``);
* ``"spearman"`` -- Spearman correlation with tie correction;
* ``"rho-a"``    -- Spearman's rho without tie correction, 12 cov(ranks) / (N^3 - N);
* ``"tau-a"``    -- Kendall's tau-a, (concordant - discordant) / (N (N - 1) / 2).

tau-a and rho-a are the rsatoolbox recommendations when a model predicts tied dissimilarities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_choice, fail
from analysis._weighted import METHODS, correlate
from analysis.evaluation import Engine, make_engine
from analysis.matrices import ParticipantMatrices, SimilarityMatrix

ModelInput = SimilarityMatrix | np.ndarray


def model_matrices(
    models: Mapping[str, ModelInput], stimuli: Sequence[str] | None = None
) -> dict[str, SimilarityMatrix]:
    """Model dissimilarity matrices aligned to `stimuli`, keyed by "model/layer" names.

    Values may be `SimilarityMatrix` objects (reordered by stimulus id), objects with
    ``matrix`` and ``stimulus_ids`` attributes (modelsvc's ``DissimilarityMatrix``; taken as
    dissimilarities), or plain (n, n) arrays in the order of `stimuli`.  Tuple keys (model,
    layer) become "model/layer".  Model matrices must be complete (no NaN pairs).
    """
    func = "model_matrices"
    if not isinstance(models, Mapping) or not models:
        raise fail(func, "models", "a non-empty mapping name -> matrix", type(models).__name__)
    out: dict[str, SimilarityMatrix] = {}
    for key, value in models.items():
        name = "/".join(map(str, key)) if isinstance(key, tuple) else str(key)
        if hasattr(value, "matrix") and hasattr(value, "stimulus_ids"):
            measure = str(getattr(value, "metric", ""))
            value = SimilarityMatrix(
                np.asarray(value.matrix, float), value.stimulus_ids, measure=measure, name=name
            )
        if isinstance(value, SimilarityMatrix):
            matrix = value if stimuli is None else value.reorder(stimuli)
            matrix = matrix.dissimilarity().renamed(name)
        else:
            if stimuli is None:
                raise fail(func, "stimuli", "given when models are plain arrays", None)
            matrix = SimilarityMatrix(np.asarray(value, float), stimuli, name=name)
        if matrix.n_missing_pairs:
            raise fail(func, f"models[{name!r}]", "a complete matrix", "missing pairs")
        out[name] = matrix
    return out


def split_model_name(name: str) -> tuple[str, str]:
    """("model", "layer") from "model/layer" (layer "" when there is no slash)."""
    model, _, layer = name.partition("/")
    return model, layer


def compare(a: SimilarityMatrix, b: SimilarityMatrix, method: str = "spearman") -> float:
    """One statistic between two matrices over the pairs both have (stimuli matched by id)."""
    check_choice("compare", "method", method, METHODS)
    b = b.reorder(a.stimuli)
    x = a.dissimilarity().upper()
    y = b.dissimilarity().upper()
    w = (~np.isnan(x) & ~np.isnan(y)).astype(float)
    return float(correlate(method, np.nan_to_num(x), np.nan_to_num(y), w))


@dataclass(frozen=True)
class NoiseCeiling:
    """Leave-one-participant-out (lower) and all-participants (upper) noise ceiling."""

    method: str
    lower: float
    upper: float


def _engine(
    models: Mapping[str, ModelInput], human: ParticipantMatrices, method: str
) -> tuple[list[str], Engine]:
    check_choice("evaluate", "method", method, METHODS)
    if not isinstance(human, ParticipantMatrices):
        raise fail("evaluate", "human", "a ParticipantMatrices", type(human).__name__)
    aligned = model_matrices(models, human.stimuli)
    vectors = np.stack([m.upper() for m in aligned.values()])
    return list(aligned), make_engine(vectors, human.dissimilarity().vectors(), method)


def evaluate(
    models: Mapping[str, ModelInput], human: ParticipantMatrices, method: str = "spearman"
) -> pd.DataFrame:
    """Each model's mean comparison with the participants' matrices, with the noise ceiling.

    Returns one row per model: model, layer, method, evaluation, noise_ceiling_lower,
    noise_ceiling_upper.
    """
    names, engine = _engine(models, human, method)
    n_pairs = engine.n_pairs
    evals, ceiling = engine.run(np.ones((1, n_pairs)), np.ones((1, human.n_participants)))
    rows = []
    for name, value in zip(names, evals[0], strict=True):
        model, layer = split_model_name(name)
        rows.append(
            {
                "model": model,
                "layer": layer,
                "method": method,
                "evaluation": value,
                "noise_ceiling_lower": ceiling[0, 0],
                "noise_ceiling_upper": ceiling[0, 1],
            }
        )
    return pd.DataFrame(rows)


def noise_ceiling(human: ParticipantMatrices, method: str = "spearman") -> NoiseCeiling:
    """rsatoolbox's ``boot_noise_ceiling`` on the full data (see `analysis.evaluation`)."""
    check_choice("noise_ceiling", "method", method, METHODS)
    if human.n_participants < 2:
        raise fail("noise_ceiling", "human", "at least 2 participants", human.n_participants)
    vectors = human.dissimilarity().vectors()
    dummy = np.zeros((1, vectors.shape[1]))
    engine = make_engine(dummy, vectors, method)
    _, ceiling = engine.run(np.ones((1, vectors.shape[1])), np.ones((1, human.n_participants)))
    return NoiseCeiling(method, float(ceiling[0, 0]), float(ceiling[0, 1]))
