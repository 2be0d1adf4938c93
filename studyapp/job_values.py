"""The values of a model job's parameters, checked by the dashboard's launch form before the
job exists, with the checks the workers apply where they use them (``modelsvc``): a bad value
is a form error, not a job that fails after its batches ran (an unknown similarity metric, for
one, was found only when the last batch of an embeddings job had been computed).

Imports PyTorch (through ``modelsvc``), like the form: only the dashboard's job pages load it.
The names are checked first (``job_parameters``); a value left out takes the worker's default,
which is valid.
"""

from collections.abc import Callable

from modelsvc.dissection.layers import layer_output_shapes
from modelsvc.embeddings import POOLINGS
from modelsvc.finetuning import FinetuneSettings
from modelsvc.generalisation import BASELINES
from modelsvc.masked_embeddings import CONDITIONS
from modelsvc.masking import MaskingSettings
from modelsvc.relevance.methods import METHODS, resolve_parameters
from modelsvc.similarity import METRICS
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice
from studyapp.job_parameters import DEFAULT_METHOD, FINETUNE_SETTINGS, PREDICTED
from studyapp.models import FaceModel, Job, StimulusSet


def job_values_check(
    *, kind: str, params: dict, stimulus_set: StimulusSet, face_models: list[FaceModel]
) -> None:
    """Raise a ValueError naming the first parameter value a `kind` job could not run with."""
    check = CHECKS.get(kind)
    if check is not None:
        specs = {m.name: ModelSpec.from_dict(m.spec) for m in face_models}
        check(params, stimulus_set, specs)


def _embeddings(params: dict, stimulus_set: StimulusSet, specs: dict[str, ModelSpec]) -> None:
    if "pooling" in params:
        check_choice("an embeddings job", "pooling", params["pooling"], POOLINGS)
    if "metrics" in params:
        _choices("metrics", params["metrics"], METRICS)
    if params.get("layers") is not None:
        layers = params["layers"]
        if not isinstance(layers, list) or not layers:
            raise ValueError(f"'layers' must be a non-empty list of layer names; got {layers!r}.")
        _layers_check(layers, specs)


def _relevance(params: dict, stimulus_set: StimulusSet, specs: dict[str, ModelSpec]) -> None:
    name = check_choice("a relevance job", "method", params.get("method", DEFAULT_METHOD), METHODS)
    method = METHODS[name]
    parameters = params.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ValueError(f"'parameters' must be a JSON object; got {parameters!r}.")
    resolve_parameters(method, parameters)
    target = params.get("target")
    if target not in (None, PREDICTED) and target not in stimulus_set.label_columns:
        raise ValueError(
            f"'target' must be {PREDICTED!r} or a label column of {stimulus_set.name!r} "
            f"({stimulus_set.label_columns}); got {target!r}."
        )


def _masking(params: dict, stimulus_set: StimulusSet, specs: dict[str, ModelSpec]) -> None:
    _masking_settings(params, blur=True)
    if "baselines" in params:
        _choices("baselines", params["baselines"], BASELINES, empty=True)
    _relevance(params.get("relevance") or {}, stimulus_set, specs)


def _decision(params: dict, stimulus_set: StimulusSet, specs: dict[str, ModelSpec]) -> None:
    _masking_settings(params, blur=False)
    if "conditions" in params:
        _choices("conditions", params["conditions"], CONDITIONS)
    if "pooling" in params:
        check_choice("a decision job", "pooling", params["pooling"], POOLINGS)
    if "metric" in params:
        check_choice("a decision job", "metric", params["metric"], METRICS)
    if params.get("layer") is not None:
        _layers_check([params["layer"]], specs)
    _relevance(params.get("relevance") or {}, stimulus_set, specs)


def _finetune(params: dict, stimulus_set: StimulusSet, specs: dict[str, ModelSpec]) -> None:
    column = params.get("label_column")
    if column not in stimulus_set.label_columns:
        raise ValueError(
            f"'label_column' must be a label column of {stimulus_set.name!r} "
            f"({stimulus_set.label_columns}); got {column!r}."
        )
    group = params.get("group_column")
    if group is not None and group not in stimulus_set.label_columns:
        raise ValueError(
            f"'group_column' must be null or a label column of {stimulus_set.name!r} "
            f"({stimulus_set.label_columns}); got {group!r}."
        )
    settings = {name: params[name] for name in FINETUNE_SETTINGS if name in params}
    FinetuneSettings(label_column=column, seed=params.get("seed", 0), **settings)
    if "name" in params and (not isinstance(params["name"], str) or not params["name"].strip()):
        raise ValueError(f"'name' must be a non-empty text; got {params['name']!r}.")


def _masking_settings(params: dict, *, blur: bool) -> None:
    """The masking settings the job would build (a placeholder for a mean fill's value, which
    the job computes from the images)."""
    if "fractions" in params and not isinstance(params["fractions"], list):
        raise ValueError(f"'fractions' must be a list of fractions; got {params['fractions']!r}.")
    given = {name: params[name] for name in ("mode", "fill", "seed") if name in params}
    if "fractions" in params:
        given["fractions"] = tuple(params["fractions"])
    if blur and params.get("blur_sigma") is not None:
        given["blur_sigma"] = params["blur_sigma"]
    fill = given.get("fill", MaskingSettings.fill)
    value = params.get("fill_value")
    if value is not None and not isinstance(value, list):
        raise ValueError(f"'fill_value' must be a list of 3 values (RGB); got {value!r}.")
    placeholder = (0.5, 0.5, 0.5) if fill == "mean" else None
    MaskingSettings(**given, fill_value=tuple(value) if value is not None else placeholder)


def _choices(name: str, values, options, *, empty: bool = False) -> None:
    if not isinstance(values, list) or not (values or empty):
        raise ValueError(f"'{name}' must be a {'' if empty else 'non-empty '}list; got {values!r}.")
    unknown = [value for value in values if value not in options]
    if unknown:
        raise ValueError(f"'{name}' must be among {list(options)}; got {unknown}.")


def _layers_check(layers: list, specs: dict[str, ModelSpec]) -> None:
    if not all(isinstance(layer, str) for layer in layers):
        raise ValueError(f"Layer names must be texts; got {layers!r}.")
    for name, spec in specs.items():
        try:
            layer_output_shapes(spec, layers)
        except ValueError as error:
            raise ValueError(f"model {name!r}: {error}") from error


CHECKS: dict[str, Callable[[dict, StimulusSet, dict[str, ModelSpec]], None]] = {
    Job.Kind.EMBEDDINGS: _embeddings,
    Job.Kind.RELEVANCE: _relevance,
    Job.Kind.MASKING: _masking,
    Job.Kind.DECISION: _decision,
    Job.Kind.FINETUNE: _finetune,
}
