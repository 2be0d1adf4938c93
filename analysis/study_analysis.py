"""One call from a study's response export (and model outputs) to every result table.

`analyse_study` applies the exclusion rules, then runs three steps, each returning a small
keyword-only dataclass: `analyse_humans` (human matrices for the study's trial type,
reliability, ceilings) -> `HumanSide`; `compare_with_models` (every model x layer against the
humans, model choice predictions) -> `ModelComparison`; `summarise_relevance` (the relevance
experiments it is given) -> `RelevanceSummaries`; `analyse_groups` (participant groups and
stimulus groups named in the parameters) -> `GroupSummaries`.  `StudyAnalysis` has the fields
of all four.
Every random draw comes from ``AnalysisParameters.random_state`` (one child seed per step), so
the same inputs give the same numbers.
`analysis.report.write_report` turns the result into HTML, PDF and machine-readable files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_int, check_real, fail
from analysis._from_dict import dataclass_from_dict
from analysis._heap import kept_heap
from analysis._threads import check_n_jobs
from analysis.bubbles import (
    BubblesDesign,
    DecisionWeighting,
    decision_weighting,
    group_part_presence,
    participant_accumulators,
)
from analysis.bubbles.model_answers import model_bubbles, with_skipped
from analysis.bubbles.responses import ALL, stimulus_maps, with_pooled
from analysis.compare import ModelInput, model_matrices, noise_ceiling
from analysis.dissection_summary import DissectionInputs, DissectionResults, dissection_results
from analysis.generalisation_inference import CrossCorrect
from analysis.human.arrangement import arrangement_matrices
from analysis.human.choices import choice_matrices, choice_similarity, choice_table
from analysis.human.embedding import MODELS as EMBEDDING_MODELS
from analysis.human.embedding import DimensionSelection, select_dimensionality
from analysis.human.ratings import rating_matrices
from analysis.inference import compare_models
from analysis.kernels import METHODS
from analysis.matrices import ParticipantMatrices, SimilarityMatrix
from analysis.participant_groups import ParticipantGroups, participant_group_analysis
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
from analysis.replication import Replication, replication_analysis
from analysis.sanity import SanityChecks
from analysis.stimulus_groups import group_accuracy, within_between_agreement

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
        participant_groups: columns of `analyse_study`'s `participant_attributes` to analyse
            per group (each distinct value a group; see `analysis.participant_groups`).
        stimulus_groups: columns of `analyse_study`'s `stimulus_labels` to analyse for bias
            across stimulus groups (see `analysis.stimulus_groups`).  Group analyses use
            `primary_method`, `n_boot`, `n_permutations`, `n_splits` and `level`.
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
    participant_groups: tuple[str, ...] = ()
    stimulus_groups: tuple[str, ...] = ()

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
        for name in ("participant_groups", "stimulus_groups"):
            columns = getattr(self, name)
            if (
                not isinstance(columns, tuple | list)
                or not all(isinstance(c, str) and c for c in columns)
                or len(set(columns)) != len(columns)
            ):
                raise fail(func, name, "a tuple of distinct column names", columns)
            object.__setattr__(self, name, tuple(columns))

    @classmethod
    def from_dict(cls, data: dict) -> AnalysisParameters:
        """The parameters from a JSON object (e.g. `as_dict`'s); the fields are the dataclass's,
        lists stand for tuples; unknown keys and values of the wrong type are ValueErrors."""
        return dataclass_from_dict(cls, data)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["methods"] = list(self.methods)
        out["embedding_dims"] = list(self.embedding_dims)
        out["participant_groups"] = list(self.participant_groups)
        out["stimulus_groups"] = list(self.stimulus_groups)
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
    cross_masking: modelsvc's per-image masking outcomes (`CrossCorrect`), for the image-
        bootstrap inference of the "Replication" section (`analysis.replication`).
    relevance / part_masks / part_labels / images / image_ids: maps for part mass and overlays;
        ``relevance`` is one (n_images, H, W) array or a mapping model -> such array (part mass
        then has a ``model`` column and the overlays one row per model).
    """

    masked_models: Mapping[tuple[str, str, float], ModelInput] | None = None
    unmasked_models: Mapping[str, ModelInput] | None = None
    generalisation: pd.DataFrame | None = None
    model_info: pd.DataFrame | None = None
    cross_masking: CrossCorrect | None = None
    group_by: tuple[str, ...] = ("pretraining", "task", "seed")
    relevance: np.ndarray | Mapping[str, np.ndarray] | None = None
    part_masks: np.ndarray | None = None
    part_labels: Mapping[int, str] | None = None
    model_answers: Mapping[str, pd.DataFrame] | None = None
    images: np.ndarray | None = None
    image_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class BubblesInputs:
    """What the Bubbles trials of a study need beyond the export: the mask design (image size,
    sigma), stimulus groups (stimulus name -> group; None: one group "all") and model maps of
    the same images per group ({model: {group: map}}, e.g. mean LRP maps); optionally the
    stimuli's part label maps at the design's size (stimulus name -> (H, W)) with the part
    names of their labels, for the significant pixels per face part; and the models' answers
    to the same trials ({model: table like the export's Bubbles rows, with the model's
    ``correct``}), for the models' own classification images, and why other models could
    not answer ({model: reason}: a row of the accuracy table each); with `model_image_maps`
    each stimulus's human map is compared with each model's map of that image.  `model_maps`
    then are best the models' relevance maps: each model's classification image is compared
    with them (faithfulness) and with the human maps."""

    design: BubblesDesign
    groups: Mapping[str, str] | None = None
    model_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None
    part_masks: Mapping[str, np.ndarray] | None = None
    part_labels: Mapping[int, str] | None = None
    model_answers: Mapping[str, pd.DataFrame] | None = None
    model_skipped: Mapping[str, str] | None = None  # models that could not answer, and why
    # {model: {stimulus: its relevance map at the design's size}}, read one model at a time
    model_image_maps: Mapping[str, Mapping[str, np.ndarray]] | None = None
    faces: Mapping[str, np.ndarray] | None = None  # {group: mean grey face} for the figures


@dataclass(frozen=True, kw_only=True)
class HumanSide:
    """The human matrices, their reliability and ceilings, and the export rows dropped on
    reading (`analyse_humans`)."""

    stimuli: tuple[str, ...]
    human: ParticipantMatrices  # per participant, as dissimilarities
    human_group: SimilarityMatrix
    matrix_source: str
    embedding: DimensionSelection | None
    choices: pd.DataFrame | None  # choice studies: i, j, odd per kept main trial
    split_half: SplitHalf
    noise_ceilings: pd.DataFrame
    ceiling_participants: pd.DataFrame | None  # method, participant, shared pairs, bounds
    majority: MajorityCeiling | None
    majority_note: str  # why there is no majority-agreement ceiling (choice data)
    # export rows `read_responses_dropping_bad_rows` dropped (row, ids, reasons); None when
    # the caller read the export strictly
    dropped_rows: pd.DataFrame | None


@dataclass(frozen=True, kw_only=True)
class ModelComparison:
    """Every model x layer against the humans (`compare_with_models`); empty without models."""

    models: dict[str, SimilarityMatrix]
    comparison: pd.DataFrame | None
    differences: pd.DataFrame | None
    choice_accuracy: pd.DataFrame | None


@dataclass(frozen=True, kw_only=True)
class RelevanceSummaries:
    """Tables of the relevance experiments (`summarise_relevance`); None where not given."""

    decision_weighting: pd.DataFrame | None
    generalisation_auc: pd.DataFrame | None
    generalisation_matrix: pd.DataFrame | None
    generalisation_asymmetry: pd.DataFrame | None
    generalisation_groups: pd.DataFrame | None
    part_mass: pd.DataFrame | None
    replication: Replication | None


@dataclass(frozen=True, kw_only=True)
class GroupSummaries:
    """Group analyses (`analyse_groups`): one `ParticipantGroups` per participant attribute
    and, over the stimulus label columns, the tables of `analysis.stimulus_groups` (None where
    not computed: within/between needs models, accuracy needs predictions)."""

    participant_groups: tuple[ParticipantGroups, ...]
    stimulus_agreement: pd.DataFrame | None
    stimulus_contrast: pd.DataFrame | None
    group_accuracy: pd.DataFrame | None
    worst_group_accuracy: pd.DataFrame | None

    def participant_group_table(self, name: str) -> pd.DataFrame | None:
        """One table of `ParticipantGroups` ("reliability", "comparison", "differences")
        stacked over the attributes; None when no attribute has it."""
        return _stacked(
            getattr(g, name) for g in self.participant_groups if getattr(g, name) is not None
        )

    def participant_group_matrices(self) -> pd.DataFrame | None:
        """Every group matrix as one long table: attribute, group, then `to_long` columns."""
        return _stacked(
            matrix.to_long().assign(attribute=g.attribute, group=group)[
                ["attribute", "group", "stimulus_1", "stimulus_2", "value", "count"]
            ]
            for g in self.participant_groups
            for group, matrix in g.matrices.items()
        )


@dataclass(frozen=True, kw_only=True)
class StudyAnalysis(GroupSummaries, RelevanceSummaries, ModelComparison, HumanSide):
    """Everything `analyse_study` computed: the fields of its four steps (tables are pandas
    DataFrames) plus what identifies the study and the run."""

    study: str
    trial_type: str
    parameters: AnalysisParameters
    exclusion: ExclusionResult
    relevance_inputs: RelevanceInputs | None
    bubbles: DecisionWeighting | None = None  # Bubbles trials' classification images
    dissection: DissectionResults | None = None  # network dissection of the study's models
    sanity: SanityChecks | None = None  # relevance sanity checks per model and method

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
                "unconverged_fits": self.embedding.unconverged_fits,
            }
        if self.participant_groups:
            sizes = self.participant_group_table("reliability")
            out["participant_groups"] = sizes[["attribute", "group", "n_participants"]].to_dict(
                orient="records"
            )
        if self.worst_group_accuracy is not None:
            out["worst_group_accuracy"] = self.worst_group_accuracy.to_dict(orient="records")
        return out


# one independent seed per random step, in this order (see `_seeds`)
SEEDED_STEPS = (
    "split",
    "embed",
    "compare",
    "majority",
    "accuracy",
    "weighting",
    "participant_groups",
    "stimulus_groups",
    "replication",
    "bubbles",
)


def _seeds(random_state: int) -> dict[str, int]:
    """Independent child seeds for each analysis step (stable across versions of numpy)."""
    children = np.random.SeedSequence(random_state).spawn(len(SEEDED_STEPS))
    return {s: int(c.generate_state(1)[0]) for s, c in zip(SEEDED_STEPS, children, strict=True)}


def _decision_weighting(
    trials: pd.DataFrame, bubbles: BubblesInputs, params: AnalysisParameters, seed: int
) -> DecisionWeighting:
    """The Bubbles trials' maps per group and pooled ("all", with several groups), with the
    models' answers to the trials of the participants kept (`trials`), and per stimulus."""
    rng = np.random.default_rng(seed)
    people = participant_accumulators(trials, bubbles.design, groups=bubbles.groups)
    presence = None
    if bubbles.part_masks:
        presence = group_part_presence(bubbles.part_masks, bubbles.part_labels, bubbles.groups)
        if len(people) > 1:
            members = bubbles.groups or {}
            every = {name: ALL for name in bubbles.part_masks if name in members}
            presence |= group_part_presence(bubbles.part_masks, bubbles.part_labels, every)
    models = None
    if bubbles.model_answers:
        kept = set(trials["participant"])
        answered = {
            model: answers[answers["participant"].isin(kept)]
            for model, answers in bubbles.model_answers.items()
        }
        models = model_bubbles(
            {
                model: with_pooled(
                    participant_accumulators(answers, bubbles.design, groups=bubbles.groups)
                )
                for model, answers in answered.items()
            },
            relevance_maps=bubbles.model_maps,
            n_boot=params.n_boot,
            random_state=rng,
        )
    weighting = decision_weighting(
        with_pooled(people),
        model_maps=bubbles.model_maps,
        model_images=models.z_maps if models is not None else None,
        part_presence=presence,
        n_boot=params.n_boot,
        random_state=rng,
    )
    stimuli = stimulus_maps(
        trials,
        bubbles.design,
        stimuli=bubbles.groups,
        model_maps=bubbles.model_image_maps,
        n_boot=params.n_boot,
        random_state=rng,
    )
    models = with_skipped(models, bubbles.model_skipped or {})
    return replace(weighting, models=models, stimuli=stimuli, faces=bubbles.faces)


def analyse_study(
    responses: pd.DataFrame,
    models: Mapping[str, ModelInput] | None = None,
    *,
    parameters: AnalysisParameters | None = None,
    relevance: RelevanceInputs | None = None,
    dropped_rows: pd.DataFrame | None = None,
    participant_attributes: pd.DataFrame | None = None,
    stimulus_labels: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
    bubbles: BubblesInputs | None = None,
    dissection: DissectionInputs | None = None,
    sanity: SanityChecks | None = None,
    n_jobs: int = 1,
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
        participant_attributes: column ``participant`` (the export's participant ids) and
            attribute columns; those named in `parameters.participant_groups` are analysed.
        stimulus_labels: column ``stimulus`` (stimulus ids) and label columns; those named in
            `parameters.stimulus_groups` are analysed.
        predictions: model predictions per stimulus (stimulus, model, predicted, true;
            optional task) for the accuracy per stimulus group.
        bubbles: the mask design, stimulus groups and model maps of the study's Bubbles
            trials; their classification images per group (``StudyAnalysis.bubbles``). The
            similarity analysis leaves Bubbles trials out.
        dissection: the dissection counts of the study's models (``StudyAnalysis.dissection``,
            pairings with `n_permutations` label permutations and `n_boot` image draws).
        sanity: the relevance sanity checks of the study's models (`analysis.sanity`),
            reported as they are (``StudyAnalysis.sanity``).
        n_jobs: threads for the embedding's fold fits and the statistics' dual bootstraps
            and Mantel tests; the result is the same for any value (`analysis._threads`).
    """
    func = "analyse_study"
    n_jobs = check_n_jobs(func, n_jobs)
    params = AnalysisParameters() if parameters is None else parameters
    studies = responses["study"].unique()
    if len(studies) != 1:
        raise fail(func, "responses", "the export of exactly one study", list(studies)[:5])
    seeds = _seeds(params.random_state)
    exclusion = apply_exclusions(responses, params.exclusions)
    is_bubbles = exclusion.responses["trial_type"] == "bubbles"
    kept = exclusion.responses[~is_bubbles]
    kinds = sorted(kept["trial_type"][kept["role"] == "main"].unique())
    if len(kinds) != 1:
        raise fail(func, "responses", "main trials of one trial type", kinds)
    with kept_heap():  # the embedding fits, bootstraps and Mantel tests
        human = analyse_humans(
            kept=kept,
            trial_type=kinds[0],
            parameters=params,
            seeds=seeds,
            dropped_rows=dropped_rows,
            n_jobs=n_jobs,
        )
        compared = compare_with_models(
            models=models or {}, humans=human, parameters=params, seeds=seeds, n_jobs=n_jobs
        )
    summaries = summarise_relevance(
        inputs=relevance or RelevanceInputs(),
        humans=human,
        compared=compared,
        parameters=params,
        seeds=seeds,
    )
    groups = analyse_groups(
        humans=human,
        compared=compared,
        parameters=params,
        seeds=seeds,
        participant_attributes=participant_attributes,
        stimulus_labels=stimulus_labels,
        predictions=predictions,
    )
    weighting = None
    if bubbles is not None:
        weighting = _decision_weighting(
            exclusion.responses[is_bubbles], bubbles, params, seeds["bubbles"]
        )
    dissected = None
    if dissection is not None and dissection.dissections:
        dissected = dissection_results(
            dissection.dissections,
            model_info=dissection.model_info,
            examples=dissection.examples,
            n_permutations=params.n_permutations,
            n_bootstrap=params.n_boot,
            random_state=params.random_state,
        )
    return StudyAnalysis(
        bubbles=weighting,
        dissection=dissected,
        sanity=sanity,
        study=str(studies[0]),
        trial_type=kinds[0],
        parameters=params,
        exclusion=exclusion,
        relevance_inputs=relevance,
        **vars(human),
        **vars(compared),
        **vars(summaries),
        **vars(groups),
    )


def analyse_humans(
    *,
    kept: pd.DataFrame,
    trial_type: str,
    parameters: AnalysisParameters,
    seeds: dict[str, int],
    dropped_rows: pd.DataFrame | None = None,
    n_jobs: int = 1,
) -> HumanSide:
    """Human matrices of the kept trials, split-half reliability and the noise ceilings;
    `dropped_rows` (from `analysis.io.read_responses_dropping_bad_rows`) is kept as given;
    an embedding's fold fits on `n_jobs` threads."""
    if trial_type in ("rating", "arrangement"):
        if trial_type == "rating":
            human = rating_matrices(kept, higher_is_similar=parameters.higher_rating_is_similar)
            source = "per-participant z-scored ratings"
        else:
            human = arrangement_matrices(kept)
            source = "per-participant inverse MDS of arrangements"
        stimuli = tuple(human.stimuli)
        group = human.group()
        choices = embedding = majority = None
        majority_note = ""
    else:
        choices, stimuli = choice_table(kept)
        human = choice_matrices(choices, stimuli)
        group, source, embedding = _choice_group_matrix(
            choices, stimuli, parameters=parameters, seed=seeds["embed"], n_jobs=n_jobs
        )
        majority, majority_note = _majority(kept, stimuli, parameters=parameters, seeds=seeds)
        stimuli = tuple(stimuli)
    halves = split_half(
        human, parameters.primary_method, n_splits=parameters.n_splits, random_state=seeds["split"]
    )
    ceilings, ceiling_participants = _noise_ceilings(human, parameters.methods)
    return HumanSide(
        stimuli=stimuli,
        human=human.dissimilarity(),
        human_group=group,
        matrix_source=source,
        embedding=embedding,
        choices=choices,
        split_half=halves,
        noise_ceilings=ceilings,
        ceiling_participants=ceiling_participants,
        majority=majority,
        majority_note=majority_note,
        dropped_rows=dropped_rows,
    )


def _choice_group_matrix(
    choices: pd.DataFrame, stimuli, *, parameters: AnalysisParameters, seed: int, n_jobs: int = 1
) -> tuple[SimilarityMatrix, str, DimensionSelection | None]:
    """The group matrix of choice data: counts, or an embedding for sparse designs."""
    group = choice_similarity(choices, stimuli)
    use_embedding = parameters.choice_matrix == "embedding" or (
        parameters.choice_matrix == "auto"
        and np.median(group.upper_counts()) < parameters.min_pair_count
    )
    if not use_embedding:
        return group, "counts", None
    embedding = select_dimensionality(
        choices,
        stimuli,
        dims=parameters.embedding_dims,
        n_folds=parameters.embedding_folds,
        model=parameters.embedding_model,
        penalty=parameters.embedding_penalty,
        random_state=seed,
        n_jobs=n_jobs,
    )
    return embedding.embedding.similarity(), f"{parameters.embedding_model} embedding", embedding


def _majority(
    kept: pd.DataFrame, stimuli, *, parameters: AnalysisParameters, seeds: dict[str, int]
) -> tuple[MajorityCeiling | None, str]:
    """The majority-agreement ceiling on repeated triplets, or why there is none."""
    with_repeats, _ = choice_table(kept, stimuli=stimuli, roles=("main", "repeat"))
    if repeated_triplets(with_repeats):
        ceiling = majority_ceiling(
            with_repeats, n_boot=parameters.n_boot, random_state=seeds["majority"]
        )
        return ceiling, ""
    return None, (
        "No majority-agreement ceiling: no triplet was answered more than once among "
        "the kept trials; add repeated trials (within or across participants) to the "
        "design to measure it."
    )


def compare_with_models(
    *,
    models: Mapping[str, ModelInput],
    humans: HumanSide,
    parameters: AnalysisParameters,
    seeds: dict[str, int],
    n_jobs: int = 1,
) -> ModelComparison:
    """Compare every model x layer with the humans (`compare_models`, its statistics on
    `n_jobs` threads) and, for choice data, score the models' choice predictions."""
    aligned = model_matrices(models, humans.stimuli) if models else {}
    if not aligned:
        return ModelComparison(models={}, comparison=None, differences=None, choice_accuracy=None)
    comparison, differences = compare_models(
        aligned,
        humans.human,
        parameters.methods,
        n_boot=parameters.n_boot,
        n_permutations=parameters.n_permutations,
        level=parameters.level,
        random_state=seeds["compare"],
        group=humans.human_group,
        n_jobs=n_jobs,
    )
    accuracy = None
    if humans.choices is not None:
        accuracy = model_choice_accuracy(
            aligned,
            humans.choices,
            humans.stimuli,
            ceiling=humans.majority,
            n_boot=parameters.n_boot,
            random_state=seeds["accuracy"],
        )
    return ModelComparison(
        models=aligned, comparison=comparison, differences=differences, choice_accuracy=accuracy
    )


def summarise_relevance(
    *,
    inputs: RelevanceInputs,
    humans: HumanSide,
    compared: ModelComparison,
    parameters: AnalysisParameters,
    seeds: dict[str, int],
) -> RelevanceSummaries:
    """Decision weighting, generalisation and part-mass tables of the inputs given."""
    weighting = None
    if inputs.masked_models:
        unmasked = inputs.unmasked_models
        if unmasked is None:
            names = {m for m, _, _ in inputs.masked_models}
            unmasked = {n: compared.models[n] for n in names if n in compared.models}
        weighting = decision_weighting_curves(
            inputs.masked_models,
            humans.human,
            parameters.primary_method,
            unmasked=unmasked,
            n_boot=parameters.n_boot,
            random_state=seeds["weighting"],
        )
    gen_auc = gen_matrix = gen_asym = gen_groups = None
    if inputs.generalisation is not None:
        gen_auc = generalisation_auc(inputs.generalisation)
        gen_matrix = generalisation_matrix(inputs.generalisation)
        gen_asym = generalisation_asymmetry(gen_matrix)
        if inputs.model_info is not None:
            by = [c for c in inputs.group_by if c in inputs.model_info.columns]
            gen_groups = generalisation_groups(inputs.generalisation, inputs.model_info, by)
    return RelevanceSummaries(
        decision_weighting=weighting,
        generalisation_auc=gen_auc,
        generalisation_matrix=gen_matrix,
        generalisation_asymmetry=gen_asym,
        generalisation_groups=gen_groups,
        part_mass=_part_mass(inputs),
        replication=_replication(inputs, weighting, parameters, seeds["replication"]),
    )


def _replication(inputs: RelevanceInputs, weighting, parameters, seed: int) -> Replication | None:
    """The claims of Crawford et al. (2020) when per-image masking outcomes or per-model
    relevance maps were given; None otherwise."""
    maps = inputs.relevance if isinstance(inputs.relevance, Mapping) else None
    if inputs.cross_masking is None and not (maps and len(maps) > 1):
        return None
    return replication_analysis(
        inputs.cross_masking,
        inputs.model_info,
        maps=maps if maps and len(maps) > 1 else None,
        part_masks=inputs.part_masks,
        part_labels=inputs.part_labels,
        decision_weighting=weighting,
        factors=inputs.group_by,
        n_boot=parameters.n_boot,
        n_permutations=parameters.n_permutations,
        level=parameters.level,
        random_state=seed,
    )


def analyse_groups(
    *,
    humans: HumanSide,
    compared: ModelComparison,
    parameters: AnalysisParameters,
    seeds: dict[str, int],
    participant_attributes: pd.DataFrame | None = None,
    stimulus_labels: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
) -> GroupSummaries:
    """Per participant group and across stimulus groups, for the columns the parameters name
    (`parameters.participant_groups`, `parameters.stimulus_groups`)."""
    func = "analyse_study"
    p = parameters
    for columns, table, name in (
        (p.participant_groups, participant_attributes, "participant_attributes"),
        (p.stimulus_groups, stimulus_labels, "stimulus_labels"),
    ):
        if columns and table is None:
            raise fail(func, name, f"a table with the columns {list(columns)}", None)
    rng = np.random.default_rng(seeds["participant_groups"])
    people = tuple(
        participant_group_analysis(
            humans.human,
            participant_attributes,
            column,
            compared.models,
            method=p.primary_method,
            n_boot=p.n_boot,
            n_permutations=p.n_permutations,
            n_splits=p.n_splits,
            level=p.level,
            random_state=rng,
        )
        for column in p.participant_groups
    )
    rng = np.random.default_rng(seeds["stimulus_groups"])
    agreement, accuracy = [], []
    for column in p.stimulus_groups:
        if compared.models:
            agreement.append(
                within_between_agreement(
                    compared.models,
                    humans.human,
                    stimulus_labels,
                    column,
                    method=p.primary_method,
                    n_boot=p.n_boot,
                    level=p.level,
                    random_state=rng,
                )
            )
        if predictions is not None:
            accuracy.append(group_accuracy(predictions, stimulus_labels, column, level=p.level))
    return GroupSummaries(
        participant_groups=people,
        stimulus_agreement=_stacked(t[0] for t in agreement),
        stimulus_contrast=_stacked(t[1] for t in agreement),
        group_accuracy=_stacked(t[0] for t in accuracy),
        worst_group_accuracy=_stacked(t[1] for t in accuracy),
    )


def _stacked(tables) -> pd.DataFrame | None:
    """The tables one below the other; None when there are none."""
    tables = list(tables)
    return pd.concat(tables, ignore_index=True) if tables else None


def _part_mass(inputs: RelevanceInputs) -> pd.DataFrame | None:
    """Relevance mass per face part, one block of rows per model when maps are per model."""
    if inputs.relevance is None or inputs.part_masks is None or not inputs.part_labels:
        return None
    by_model = (
        inputs.relevance if isinstance(inputs.relevance, Mapping) else {None: inputs.relevance}
    )
    tables = []
    for model, maps in by_model.items():
        table = relevance_mass_per_part(
            maps, inputs.part_masks, inputs.part_labels, image_ids=inputs.image_ids
        )
        if model is not None:
            table.insert(0, "model", model)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


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
