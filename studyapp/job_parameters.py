"""The parameter names each model job kind reads, checked where a job is launched
(``services.jobs.job_launch``): a misspelt name would otherwise be ignored and the job would
run its default without a word.

The defaults live with the workers (``tasks.computations.*``: ``DEFAULTS``), which load
PyTorch; this table does not, so the web process can check a launch without it (a unit test
keeps the two in step). Map-comparison, dissection and report jobs check their own settings
(``map_comparison``, ``services.dissection``, ``analysis.AnalysisParameters``); adaptive jobs
are launched by the platform only. Two relevance defaults that the form's value checks and the
workers share live here too (``PREDICTED``, ``DEFAULT_METHOD``).
"""

from studyapp.models import Job

RELEVANCE = frozenset({"target", "method", "parameters"})
PREDICTED = "predicted"  # a relevance target: each image's predicted class
DEFAULT_METHOD = "epsilon_plus_flat"  # the relevance method of a job that names none
FILLED_IN = frozenset({"fill_value"})  # written by the job itself when it plans a 'mean' fill
FINETUNE_SETTINGS = (
    "split_seed", "train_last", "val_fraction", "group_column", "max_epochs", "patience",
    "batch_size", "learning_rate", "weight_decay", "class_weighted",
)  # fmt: skip

NAMES: dict[str, frozenset[str]] = {
    Job.Kind.RELEVANCE: RELEVANCE,
    Job.Kind.EMBEDDINGS: frozenset({"pooling", "metrics", "layers"}),
    Job.Kind.MASKING: FILLED_IN
    | {"fractions", "mode", "fill", "blur_sigma", "seed", "baselines", "relevance"},
    Job.Kind.DECISION: FILLED_IN
    | {"fractions", "conditions", "mode", "fill", "seed", "layer", "pooling", "metric"}
    | {"relevance"},
    Job.Kind.FINETUNE: frozenset({"label_column", "seed", "name", *FINETUNE_SETTINGS}),
}


def job_parameters_check(kind: str, params: dict) -> None:
    """Raise a ValueError naming any parameter that a `kind` job would not read (also inside
    the 'relevance' object of masking and decision jobs, which picks their relevance maps)."""
    known = NAMES.get(kind)
    if known is None:
        return
    _names_check(f"{kind} parameters", params, known)
    nested = params.get("relevance")
    if "relevance" in known and nested is not None:
        if not isinstance(nested, dict):
            raise ValueError(f"'relevance' must be a JSON object with {sorted(RELEVANCE)}.")
        _names_check(f"{kind} 'relevance' parameters", nested, RELEVANCE)


def _names_check(what: str, params: dict, known: frozenset[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}; known: {sorted(known)}.")
