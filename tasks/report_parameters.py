"""A study's analysis settings (JSON) checked and turned into ``analysis.AnalysisParameters``.

Kept apart from the report computation so that the web forms can validate settings without
importing the model code (PyTorch) into every web worker.
"""

from analysis import AnalysisParameters, ExclusionRules

ANALYSIS_FIELDS = (
    "methods",
    "primary_method",
    "n_boot",
    "n_permutations",
    "n_splits",
    "level",
    "random_state",
    "choice_matrix",
    "min_pair_count",
    "embedding_model",
    "embedding_dims",
    "embedding_folds",
    "embedding_penalty",
    "higher_rating_is_similar",
    "participant_groups",
    "stimulus_groups",
)  # the job parameters passed on to analysis.AnalysisParameters


def analysis_parameters(params: dict) -> AnalysisParameters:
    """``analysis.AnalysisParameters`` from a job's (or a study's) JSON; unknown keys are errors."""
    unknown = sorted(set(params) - set(ANALYSIS_FIELDS) - {"exclusions"})
    if unknown:
        known = sorted([*ANALYSIS_FIELDS, "exclusions"])
        raise ValueError(f"Unknown analysis settings {unknown}; known: {known}.")
    fields = {name: params[name] for name in ANALYSIS_FIELDS if name in params}
    for name in ("methods", "embedding_dims"):
        if name in fields:
            fields[name] = tuple(fields[name])
    try:
        return AnalysisParameters(
            **fields, exclusions=ExclusionRules(**params.get("exclusions", {}))
        )
    except TypeError as error:
        raise ValueError(f"Invalid analysis settings: {error}.") from error
