"""Pure numpy/scipy/pandas analyses (no Django): human similarity, reliability, comparison.

The most used names are re-exported here; `analysis.report` (matplotlib, Jinja2) is imported
on its own so that ``import analysis`` stays light.  See analysis/README.md.
"""

from analysis.compare import NoiseCeiling, compare, evaluate, model_matrices, noise_ceiling
from analysis.human.choices import choice_matrices, choice_similarity, choice_table
from analysis.human.embedding import fit_embedding, select_dimensionality
from analysis.human.profiles import profile_dissimilarity
from analysis.human.ratings import rating_matrices
from analysis.inference import (
    bootstrap_evaluations,
    compare_models,
    dual_bootstrap,
    fdr_bh,
    mantel_test,
)
from analysis.io import read_responses, read_responses_dropping_bad_rows
from analysis.matrices import ParticipantMatrices, SimilarityMatrix
from analysis.predictions import model_choice_accuracy
from analysis.quality import ExclusionRules, apply_exclusions, participant_quality
from analysis.relevance import (
    decision_weighting_curves,
    generalisation_table,
    relevance_mass_per_part,
)
from analysis.reliability import majority_ceiling, spearman_brown, split_half
from analysis.study_analysis import AnalysisParameters, RelevanceInputs, analyse_study

__all__ = [
    "AnalysisParameters",
    "ExclusionRules",
    "NoiseCeiling",
    "ParticipantMatrices",
    "RelevanceInputs",
    "SimilarityMatrix",
    "analyse_study",
    "apply_exclusions",
    "bootstrap_evaluations",
    "choice_matrices",
    "choice_similarity",
    "choice_table",
    "compare",
    "compare_models",
    "decision_weighting_curves",
    "dual_bootstrap",
    "evaluate",
    "fdr_bh",
    "fit_embedding",
    "generalisation_table",
    "majority_ceiling",
    "mantel_test",
    "model_choice_accuracy",
    "model_matrices",
    "noise_ceiling",
    "participant_quality",
    "profile_dissimilarity",
    "rating_matrices",
    "read_responses",
    "read_responses_dropping_bad_rows",
    "relevance_mass_per_part",
    "select_dimensionality",
    "spearman_brown",
    "split_half",
]
