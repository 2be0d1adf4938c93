"""One call from a study's response export (and model outputs) to every result table.

`analyse_study` applies the exclusion rules, builds the human matrices for the study's trial
type, measures reliability, compares every model x layer with the humans, scores model choice
predictions, and summarises the relevance experiments it is given.  Every random draw comes
from ``AnalysisParameters.random_state``, so the same inputs give the same numbers.
`analysis.report.write_report` turns the result into HTML, PDF and machine-readable files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_int, check_real, fail
from analysis._weighted import METHODS
from analysis.compare import ModelInput, model_matrices, noise_ceiling
from analysis.human.choices import choice_matrices, choice_similarity, choice_table
from analysis.human.embedding import MODELS as EMBEDDING_MODELS
from analysis.human.embedding import DimensionSelection, select_dimensionality
from analysis.human.ratings import rating_matrices
from analysis.inference import compare_models
from analysis.matrices import ParticipantMatrices, SimilarityMatrix
from analysis.predictions import model_choice_accuracy
from analysis.quality import ExclusionResult, ExclusionRules, apply_exclusions
from analysis.relevance import (
    decision_weighting_curves,
    generalisation_asymmetry,
    generalisation_auc,
    generalisation_groups,
    generalisation_matrix,
    relevance_mass_per_part,
)
from analysis.reliability import (
    MajorityCeiling,
    SplitHalf,
    majority_ceiling,
    repeated_triplets,
    split_half,
)

CHOICE_MATRIX = ("auto", "counts", "embedding")


@dataclass(frozen=True)
class AnalysisParameters:
    """Every choice the analysis makes, recorded in the report's methods text.

    Attributes:
        methods: comparison statistics (see `analysis.compare`).  Pearson, Spearman and rho-a
            bootstraps are batched (about 1-15 s per 1,000 draws for 100 stimuli and 30
            participants); tau-a is exact but not batched above 400 pairs (29 stimuli): its
            dual bootstrap costs about 0.3 ms x (models + 2) x participants x 3 per draw, so
            drop it or lower `n_boot` for large studies under a job time limit.
        primary_method: the one used for figures, split-half and decision weighting.
        n_boot: bootstrap draws (dual bootstrap over participants and stimuli; also the
            intervals of ceilings and choice accuracy).
        n_permutations: Mantel permutations.
        n_splits: random split-halves.
        level: confidence level of intervals.
        random_state: seed of every random draw.
        exclusions: participant and trial exclusion rules.
        choice_matrix: for triplet/2AFC data, "counts" (dense designs), "embedding" (sparse
            designs) or "auto" (embedding when the median pair was offered fewer than
            `min_pair_count` times).
        min_pair_count: see `choice_matrix`.
        embedding_model, embedding_dims, embedding_folds, embedding_penalty: embedding fit
            and the dimensionalities tried by held-out accuracy.
        higher_rating_is_similar: orientation of the rating scale.
    """

    methods: tuple[str, ...] = ("spearman", "pearson", "rho-a", "tau-a")
    primary_method: str = "spearman"
    n_boot: int = 1000
    n_permutations: int = 10_000
    n_splits: int = 100
    level: float = 0.95
    random_state: int = 0
    exclusions: ExclusionRules = field(default_factory=ExclusionRules)
    choice_matrix: str = "auto"
    min_pair_count: int = 3
    embedding_model: str = "spose"
    embedding_dims: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    embedding_folds: int = 5
    embedding_penalty: float = 0.01
    higher_rating_is_similar: bool = True

    def __post_init__(self) -> None:
        func = "AnalysisParameters"
        if not self.methods:
            raise fail(func, "methods", "a non-empty tuple", self.methods)
        for m in self.methods:
            check_choice(func, "methods", m, METHODS)
        check_choice(func, "primary_method", self.primary_method, self.methods)
        check_int(func, "n_boot", self.n_boot, minimum=2)
        check_int(func, "n_permutations", self.n_permutations, minimum=1)
        check_int(func, "n_splits", self.n_splits, minimum=1)
        check_real(func, "level", self.level, low=0, high=1, low_open=True, high_open=True)
        check_int(func, "random_state", self.random_state, minimum=0)
        check_choice(func, "choice_matrix", self.choice_matrix, CHOICE_MATRIX)
        check_int(func, "min_pair_count", self.min_pair_count, minimum=1)
        check_choice(func, "embedding_model", self.embedding_model, EMBEDDING_MODELS)
        if not isinstance(self.exclusions, ExclusionRules):
            raise fail(func, "exclusions", "an ExclusionRules", type(self.exclusions).__name__)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["methods"] = list(self.methods)
        out["embedding_dims"] = list(self.embedding_dims)
        return out


@dataclass(frozen=True)
class RelevanceInputs:
    """Optional model-side inputs from modelsvc (all arrays / long tables).

    masked_models: (model, condition, k) -> dissimilarity matrix on masked images.
    unmasked_models: model -> matrix on the original images (defaults to the compared models).
    generalisation: long table model_a (mask source: a model, or a baseline "random" /
        "center"), model_b (tested model), k, accuracy -- see
        `analysis.relevance.generalisation_table` for modelsvc's arrays.
    model_info: table model + attributes (pretraining, task, seed, ...).
    relevance / part_masks / part_labels / images / image_ids: maps for part mass and overlays;
        ``relevance`` is one (n_images, H, W) array or a mapping model -> such array (part mass
        then has a ``model`` column and the overlays one row per model).
    """

    masked_models: Mapping[tuple[str, str, float], ModelInput] | None = None
    unmasked_models: Mapping[str, ModelInput] | None = None
    generalisation: pd.DataFrame | None = None
    model_info: pd.DataFrame | None = None
    group_by: tuple[str, ...] = ("pretraining", "task", "seed")
    relevance: np.ndarray | Mapping[str, np.ndarray] | None = None
    part_masks: np.ndarray | None = None
    part_labels: Mapping[int, str] | None = None
    images: np.ndarray | None = None
    image_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything `analyse_study` computed (tables are pandas DataFrames)."""

    study: str
    trial_type: str
    parameters: AnalysisParameters
    exclusion: ExclusionResult
    stimuli: tuple[str, ...]
    human: ParticipantMatrices
    human_group: SimilarityMatrix
    matrix_source: str
    embedding: DimensionSelection | None
    choices: pd.DataFrame | None
    split_half: SplitHalf
    noise_ceilings: pd.DataFrame
    majority: MajorityCeiling | None
    models: dict[str, SimilarityMatrix]
    comparison: pd.DataFrame | None
    differences: pd.DataFrame | None
    choice_accuracy: pd.DataFrame | None
    decision_weighting: pd.DataFrame | None
    generalisation_auc: pd.DataFrame | None
    generalisation_matrix: pd.DataFrame | None
    generalisation_asymmetry: pd.DataFrame | None
    generalisation_groups: pd.DataFrame | None
    part_mass: pd.DataFrame | None
    relevance_inputs: RelevanceInputs | None = None
    ceiling_participants: pd.DataFrame | None = None  # method, participant, shared pairs, bounds
    majority_note: str = ""  # why there is no majority-agreement ceiling (choice data)
    # export rows `read_responses_dropping_bad_rows` dropped (row, ids, reasons)
    dropped_rows: pd.DataFrame | None = None

    def ceiling_notes(self) -> list[str]:
        """Why ceilings are missing or rest on few participants, and what is used instead."""
        notes = [
            f"{r.method} noise ceiling: {r.note}"
            for r in self.noise_ceilings.itertuples()
            if isinstance(r.note, str) and r.note
        ]
        if self.majority_note:
            notes.append(self.majority_note)
        return notes

    def summary(self) -> dict:
        """Headline numbers (JSON-serialisable)."""
        out = {
            "study": self.study,
            "trial_type": self.trial_type,
            "n_stimuli": len(self.stimuli),
            "matrix_source": self.matrix_source,
            "exclusion": self.exclusion.summary(),
            "n_participants_analysed": self.human.n_participants,
            "n_missing_pairs": self.human_group.n_missing_pairs,
            "split_half": self.split_half.summary(),
            "noise_ceilings": self.noise_ceilings.to_dict(orient="records"),
            "n_dropped_rows": 0 if self.dropped_rows is None else len(self.dropped_rows),
        }
        if self.majority is not None:
            out["majority_ceiling"] = self.majority.as_dict()
        if self.majority_note:
            out["majority_ceiling_note"] = self.majority_note
        if self.embedding is not None:
            out["embedding"] = {
                "model": self.embedding.embedding.model,
                "n_dims": self.embedding.best_dims,
                "train_accuracy": self.embedding.embedding.train_accuracy,
                "random_state": self.embedding.embedding.random_state,
            }
        return out


def _seeds(random_state: int, n: int) -> list[int]:
    """Independent child seeds for each analysis step (stable across versions of numpy)."""
    children = np.random.SeedSequence(random_state).spawn(n)
    return [int(c.generate_state(1)[0]) for c in children]


def analyse_study(
    responses: pd.DataFrame,
    models: Mapping[str, ModelInput] | None = None,
    *,
    parameters: AnalysisParameters | None = None,
    relevance: RelevanceInputs | None = None,
    dropped_rows: pd.DataFrame | None = None,
) -> StudyAnalysis:
    """Run the whole analysis of one study (see module docstring).

    Args:
        responses: one study's export, as returned by `analysis.io.read_responses`.
        models: "model/layer" -> dissimilarity matrix (SimilarityMatrix with stimulus ids, or
            an array in the order of the human stimuli).
        parameters: analysis choices (defaults: `AnalysisParameters()`).
        relevance: optional relevance-experiment inputs.
        dropped_rows: the rows `analysis.io.read_responses_dropping_bad_rows` dropped from
            the export; the report lists them.
    """
    func = "analyse_study"
    params = AnalysisParameters() if parameters is None else parameters
    studies = responses["study"].unique()
    if len(studies) != 1:
        raise fail(func, "responses", "the export of exactly one study", list(studies)[:5])
    seed = dict(
        zip(
            ("split", "embed", "compare", "majority", "accuracy", "weighting"),
            _seeds(params.random_state, 6),
            strict=True,
        )
    )
    exclusion = apply_exclusions(responses, params.exclusions)
    kept = exclusion.responses
    kinds = sorted(kept["trial_type"][kept["role"] == "main"].unique())
    if len(kinds) != 1:
        raise fail(func, "responses", "main trials of one trial type", kinds)
    kind = kinds[0]
    embedding = choices = majority = None
    majority_note = ""
    if kind == "rating":
        human = rating_matrices(kept, higher_is_similar=params.higher_rating_is_similar)
        stimuli = human.stimuli
        group = human.group()
        source = "per-participant z-scored ratings"
    else:
        choices, stimuli = choice_table(kept)
        human = choice_matrices(choices, stimuli)
        group = choice_similarity(choices, stimuli)
        source = "counts"
        use_embedding = params.choice_matrix == "embedding" or (
            params.choice_matrix == "auto"
            and np.median(group.upper_counts()) < params.min_pair_count
        )
        if use_embedding:
            embedding = select_dimensionality(
                choices,
                stimuli,
                dims=params.embedding_dims,
                n_folds=params.embedding_folds,
                model=params.embedding_model,
                penalty=params.embedding_penalty,
                random_state=seed["embed"],
            )
            group = embedding.embedding.similarity()
            source = f"{params.embedding_model} embedding"
        with_repeats, _ = choice_table(kept, stimuli=stimuli, roles=("main", "repeat"))
        if repeated_triplets(with_repeats):
            majority = majority_ceiling(
                with_repeats, n_boot=params.n_boot, random_state=seed["majority"]
            )
        else:
            majority_note = (
                "No majority-agreement ceiling: no triplet was answered more than once among "
                "the kept trials; add repeated trials (within or across participants) to the "
                "design to measure it."
            )
    stimuli = tuple(stimuli)
    halves = split_half(
        human, params.primary_method, n_splits=params.n_splits, random_state=seed["split"]
    )
    ceilings, ceiling_participants = _noise_ceilings(human, params.methods)
    aligned = model_matrices(models, stimuli) if models else {}
    comparison = differences = accuracy = None
    if aligned:
        comparison, differences = compare_models(
            aligned,
            human,
            params.methods,
            n_boot=params.n_boot,
            n_permutations=params.n_permutations,
            level=params.level,
            random_state=seed["compare"],
            group=group,
        )
        if choices is not None:
            accuracy = model_choice_accuracy(
                aligned,
                choices,
                stimuli,
                ceiling=majority,
                n_boot=params.n_boot,
                random_state=seed["accuracy"],
            )
    rel = relevance or RelevanceInputs()
    weighting = gen_auc = gen_matrix = gen_asym = gen_groups = part_mass = None
    if rel.masked_models:
        unmasked = rel.unmasked_models
        if unmasked is None:
            names = {m for m, _, _ in rel.masked_models}
            unmasked = {n: aligned[n] for n in names if n in aligned}
        weighting = decision_weighting_curves(
            rel.masked_models,
            human,
            params.primary_method,
            unmasked=unmasked,
            n_boot=params.n_boot,
            random_state=seed["weighting"],
        )
    if rel.generalisation is not None:
        gen_auc = generalisation_auc(rel.generalisation)
        gen_matrix = generalisation_matrix(rel.generalisation)
        gen_asym = generalisation_asymmetry(gen_matrix)
        if rel.model_info is not None:
            by = [c for c in rel.group_by if c in rel.model_info.columns]
            gen_groups = generalisation_groups(rel.generalisation, rel.model_info, by)
    if rel.relevance is not None and rel.part_masks is not None and rel.part_labels:
        by_model = rel.relevance if isinstance(rel.relevance, Mapping) else {None: rel.relevance}
        tables = []
        for model, maps in by_model.items():
            table = relevance_mass_per_part(
                maps, rel.part_masks, rel.part_labels, image_ids=rel.image_ids
            )
            if model is not None:
                table.insert(0, "model", model)
            tables.append(table)
        part_mass = pd.concat(tables, ignore_index=True)
    return StudyAnalysis(
        str(studies[0]),
        kind,
        params,
        exclusion,
        stimuli,
        human.dissimilarity(),
        group,
        source,
        embedding,
        choices,
        halves,
        ceilings,
        majority,
        aligned,
        comparison,
        differences,
        accuracy,
        weighting,
        gen_auc,
        gen_matrix,
        gen_asym,
        gen_groups,
        part_mass,
        relevance,
        ceiling_participants=ceiling_participants,
        majority_note=majority_note,
        dropped_rows=dropped_rows,
    )


def _noise_ceilings(
    human: ParticipantMatrices, methods: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per method (`NoiseCeiling.as_dict`) and the per-participant bounds."""
    if human.n_participants < 2:
        note = (
            f"No noise ceiling: {human.n_participants} participant analysed, and a ceiling "
            "compares participants with each other."
        )
        rows = [{"method": m, "lower": np.nan, "upper": np.nan, "note": note} for m in methods]
        return pd.DataFrame(rows), pd.DataFrame()
    results = [noise_ceiling(human, m) for m in methods]
    per_participant = pd.concat(
        [r.participants.assign(method=r.method) for r in results], ignore_index=True
    )
    columns = ["method", "participant", "shared_pairs", "lower", "upper"]
    return pd.DataFrame([r.as_dict() for r in results]), per_participant[columns]
