"""The dashboard's dissection figures (job and artifact pages): the report's figures drawn
from a job's or an artifact's dissection counts, as PNG.

Imports matplotlib, pandas and scipy, so the views import it when a figure is asked for
(the report job reads its inputs with `dissection_inputs` too).
The pairings of a set of artifacts are computed once per process (``_results``, keyed by
the artifacts' digests: stored files never change under a digest).
"""

import io
from functools import lru_cache

from analysis.dissection import dissection_from_arrays
from analysis.dissection_summary import DissectionInputs, DissectionResults, dissection_results
from analysis.report import dissection_figures
from studyapp.models import Artifact
from studyapp.storage import read_arrays

FIGURES = ("levels", "comparison")  # and "units-<model index>-<layer index>"


def dissection_figure_png(artifacts: list[Artifact], name: str) -> bytes | None:
    """The figure `name` of `artifacts` (dissection artifacts on one stimulus set); None for
    a name that is not one of them or a figure without data."""
    if not artifacts:
        return None
    results = _results(tuple((a.pk, a.sha256) for a in artifacts))
    if name == "levels":
        figure = dissection_figures.concept_levels(results.levels)
    elif name == "comparison":
        figure = dissection_figures.task_comparison(results.comparison)
    else:
        figure = _units_figure(results, name)
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    return buffer.getvalue()


def figure_names(artifacts: list[Artifact]) -> list[str]:
    """The figures a page shows for `artifacts`: levels, each model's deepest layer's
    examples, and the task comparison when the models include a task pair."""
    results = _results(tuple((a.pk, a.sha256) for a in artifacts))
    names = ["levels"]
    names += [f"units-{k}-{len(a.summary['layers']) - 1}" for k, a in enumerate(artifacts)]
    return names + (["comparison"] if results.comparison is not None else [])


def _units_figure(results: DissectionResults, name: str):
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "units" or not (parts[1] + parts[2]).isdigit():
        return None
    models = list(results.examples)
    model_index, layer_index = int(parts[1]), int(parts[2])
    if model_index >= len(models):
        return None
    model = models[model_index]
    layers = list(dict.fromkeys(results.levels[results.levels["model"] == model]["layer"]))
    if layer_index >= len(layers):
        return None
    return dissection_figures.unit_examples(
        results.examples[model], layers[layer_index], f"{model}, {layers[layer_index]}"
    )


def dissection_inputs(artifacts: list[Artifact]) -> DissectionInputs | None:
    """Counts, concepts, examples and model attributes of dissection `artifacts` (one per
    model) for ``analysis``; None without artifacts."""
    dissections, examples, info = {}, {}, {}
    for artifact in artifacts:
        arrays = read_arrays(artifact.file.name, artifact.sha256)
        record = {**artifact.summary, "stimulus_ids": arrays["stimulus_ids"].tolist()}
        name = artifact.face_model.name
        dissections[name] = dissection_from_arrays(arrays, record)
        examples[name] = {k: v for k, v in arrays.items() if k.startswith("examples/")}
        info[name] = {
            "pretraining": artifact.face_model.pretraining,
            "task": artifact.face_model.task or "none",
            "seed": artifact.face_model.seed,
        }
    return DissectionInputs(dissections, info, examples) if dissections else None


@lru_cache(maxsize=8)
def _results(keys: tuple[tuple[int, str], ...]) -> DissectionResults:
    found = Artifact.objects.select_related("face_model").in_bulk([pk for pk, _ in keys])
    inputs = dissection_inputs([found[pk] for pk, _ in keys])
    return dissection_results(
        inputs.dissections, model_info=inputs.model_info, examples=inputs.examples
    )
