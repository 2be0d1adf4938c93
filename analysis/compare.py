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

from analysis._checks import check_choice, check_int, fail
from analysis.evaluation import MIN_CEILING_PAIRS, Engine, make_engine
from analysis.kernels import METHODS, correlate
from analysis.matrices import ParticipantMatrices, SimilarityMatrix

ModelInput = SimilarityMatrix | np.ndarray
# below this median number of shared pairs per participant, a ceiling's note calls it imprecise
FEW_SHARED_PAIRS = 10


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
    """Leave-one-participant-out (lower) and all-participants (upper) noise ceiling.

    lower / upper: means over the participants for whom each bound is defined (NaN: none).
    participants: one row per participant -- participant, shared_pairs (pairs also judged by
    someone else; the bounds use exactly these), lower, upper (NaN: left out).
    note: why a bound is missing or rests on few participants ("" when both are fine).
    """

    method: str
    lower: float
    upper: float
    n_participants: int
    n_lower: int
    n_upper: int
    min_pairs: int
    participants: pd.DataFrame
    note: str = ""

    def as_dict(self) -> dict:
        """One table row: method, lower, upper, participant counts, median shared pairs,
        note."""
        shared = self.participants["shared_pairs"]
        return {
            "method": self.method,
            "lower": self.lower,
            "upper": self.upper,
            "n_participants": self.n_participants,
            "n_lower": self.n_lower,
            "n_upper": self.n_upper,
            "median_shared_pairs": float(shared.median()) if len(shared) else float("nan"),
            "note": self.note,
        }


def _engine(
    models: Mapping[str, ModelInput], human: ParticipantMatrices, method: str, rank_sums=None
) -> tuple[list[str], Engine]:
    check_choice("evaluate", "method", method, METHODS)
    if not isinstance(human, ParticipantMatrices):
        raise fail("evaluate", "human", "a ParticipantMatrices", type(human).__name__)
    aligned = model_matrices(models, human.stimuli)
    vectors = np.stack([m.upper() for m in aligned.values()])
    engine = make_engine(vectors, human.dissimilarity(), method, rank_sums=rank_sums)
    return list(aligned), engine


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


def participant_evaluations(
    models: Mapping[str, ModelInput], human: ParticipantMatrices, method: str = "spearman"
) -> pd.DataFrame:
    """Each model's comparison with each participant's matrix (pairs both have): a
    (participant x "model/layer") table, NaN where the statistic is undefined.  `evaluate` is
    the mean of its rows' defined values."""
    names, engine = _engine(models, human, method)
    each = np.eye(human.n_participants)
    values, _ = engine.run(np.ones((len(each), engine.n_pairs)), each, ceiling=False)
    return pd.DataFrame(
        values, index=pd.Index(human.participants, name="participant"), columns=names
    )


def noise_ceiling(
    human: ParticipantMatrices, method: str = "spearman", *, min_pairs: int = MIN_CEILING_PAIRS
) -> NoiseCeiling:
    """rsatoolbox's ``boot_noise_ceiling`` on the full data, made meaningful for sparse designs.

    Each participant's matrix is compared with the pooled matrix of the others (lower bound)
    and of everyone (upper bound), on the pairs it shares with at least one other participant
    (with complete data: all pairs, and the numbers equal rsatoolbox's).  Participants with
    fewer than `min_pairs` shared pairs or an undefined statistic are left out of a bound and
    counted; `note` says why when a bound cannot be computed at all.  Why not all pairs: see
    `analysis.evaluation` (on pairs nobody else judged the upper bound is ~1 by construction).
    """
    func = "noise_ceiling"
    check_choice(func, "method", method, METHODS)
    if not isinstance(human, ParticipantMatrices):
        raise fail(func, "human", "a ParticipantMatrices", type(human).__name__)
    min_pairs = check_int(func, "min_pairs", min_pairs, minimum=2)
    n = human.n_participants
    if n < 2:
        raise fail(func, "human", "at least 2 participants", n)
    engine = make_engine(np.zeros((1, human.n_pairs)), human.dissimilarity(), method, min_pairs)
    lower, upper, shared = engine.participant_bounds()
    table = pd.DataFrame(
        {"participant": human.participants, "shared_pairs": shared, "lower": lower, "upper": upper}
    )
    n_lower, n_upper = int((~np.isnan(lower)).sum()), int((~np.isnan(upper)).sum())
    return NoiseCeiling(
        method,
        float(np.nanmean(lower)) if n_lower else float("nan"),
        float(np.nanmean(upper)) if n_upper else float("nan"),
        n,
        n_lower,
        n_upper,
        min_pairs,
        table,
        _ceiling_note(method, n, n_lower, n_upper, shared, min_pairs),
    )


def _ceiling_note(
    method: str, n: int, n_lower: int, n_upper: int, shared: np.ndarray, min_pairs: int
) -> str:
    """Why a bound is missing, rests on fewer than all participants or on few pairs ("" if
    none of these)."""
    few = int((shared < min_pairs).sum())
    reasons = []
    if few:
        reasons.append(
            f"{few} of {n} participants share fewer than {min_pairs} judged pairs with anyone "
            f"else (median {np.median(shared):g} shared pairs)"
        )
    undefined_lower, undefined_upper = n - few - n_lower, n - few - n_upper
    if undefined_lower or undefined_upper:
        reasons.append(
            f"the {method} statistic is undefined (a constant vector on the shared pairs) for "
            f"the lower bound of {undefined_lower} and the upper bound of {undefined_upper} "
            "participants"
        )
    text = "; ".join(reasons)
    if n_lower == 0 or n_upper == 0:
        missing = " and ".join(
            name for name, k in (("lower", n_lower), ("upper", n_upper)) if k == 0
        )
        return (
            f"No {missing} bound: {text}. Per-pair noise ceilings need participants who judged "
            "the same pairs; for choice data use the majority-agreement ceiling with the "
            "models' choice accuracy instead."
        )
    notes = [f"Lower bound from {n_lower}, upper from {n_upper} of {n} participants: {text}."]
    if text == "":
        notes = []
    typical = float(np.median(shared[shared >= min_pairs]))
    if typical < FEW_SHARED_PAIRS:
        notes.append(
            f"The bounds rest on a median of {typical:g} shared pairs per participant and are "
            "imprecise; for choice data the majority-agreement ceiling with the models' choice "
            "accuracy is the firmer comparison."
        )
    return " ".join(notes)
