"""Researcher forms for face models and compute jobs."""

import json
import math

from django import forms
from django.conf import settings

from modelsvc import ARCHITECTURES, ModelSpec
from modelsvc.dissection.layers import dissection_layers
from modelsvc.spec import IMAGENET_MEAN, IMAGENET_STD, WEIGHTS_FORMATS
from modelsvc.weights_inspect import WeightsInfo
from studyapp.job_parameters import job_parameters_check
from studyapp.job_values import job_values_check
from studyapp.map_comparison import map_comparison_settings
from studyapp.models import FaceModel, Job, StimulusSet, Study
from studyapp.services.dissection import dissection_check

MAX_CLASSES = 100_000  # output units; far beyond any face data set, small enough to allocate


def _floats(text: str, name: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError as error:
        raise forms.ValidationError(f"{name}: three numbers, e.g. 0.485, 0.456, 0.406.") from error
    if not all(math.isfinite(v) for v in values):
        raise forms.ValidationError(f"{name}: finite numbers; got {text!r}.")
    if len(values) != 3:
        raise forms.ValidationError(f"{name}: three numbers (R, G, B); got {len(values)}.")
    return values


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _check_storable(value) -> None:
    """PostgreSQL's jsonb refuses NUL characters and lone surrogates: ValueError for those."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item)
    elif isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.replace("\n", ",").split(",") if v.strip())


class FaceModelForm(forms.Form):
    """A model's spec and weights; empty size, normalisation and layers take the defaults."""

    field_order = ["weights", "staged_weights", "weights_path", "weights_format"]

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    architecture = forms.ChoiceField(
        choices=[(name, f"{name}: {a.description}") for name, a in ARCHITECTURES.items()]
    )
    pretraining = forms.ChoiceField(choices=FaceModel.Pretraining.choices)
    num_classes = forms.IntegerField(
        min_value=1, max_value=MAX_CLASSES, help_text="Units of the output layer."
    )
    class_names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per output unit, in order (comma or line separated); may be empty.",
    )
    task = forms.CharField(required=False, help_text="Label column the output predicts.")
    input_size = forms.CharField(
        required=False, help_text="height, width (default: the architecture's)."
    )
    mean = forms.CharField(required=False, initial=", ".join(map(str, IMAGENET_MEAN)))
    std = forms.CharField(required=False, initial=", ".join(map(str, IMAGENET_STD)))
    layers = forms.CharField(
        required=False, help_text="Layers for embeddings (default: the architecture's)."
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    weights = forms.FileField(
        required=False,
        help_text="Upload a weights file (its format, architecture and classes are detected) …",
    )
    staged_weights = forms.CharField(required=False, widget=forms.HiddenInput)
    weights_path = forms.CharField(required=False, help_text="… or give a path on the server.")
    weights_format = forms.ChoiceField(
        choices=[("", "— detect from the file, or no weights (random init) —")]
        + [(f, f) for f in WEIGHTS_FORMATS],
        required=False,
    )
    parent = forms.ModelChoiceField(queryset=FaceModel.objects.all(), required=False)

    def clean_weights(self):
        upload = self.cleaned_data["weights"]
        limit = settings.FACESIM_MAX_WEIGHTS_UPLOAD_BYTES
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(
                f"The weights file has {upload.size:,} bytes; the limit is {limit:,} "
                "(FACESIM_MAX_WEIGHTS_UPLOAD_BYTES)."
            )
        return upload

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if FaceModel.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A model named {name!r} already exists.")
        return name

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        architecture = ARCHITECTURES[data["architecture"]]
        try:
            size = (
                tuple(int(v) for v in data["input_size"].replace(",", " ").split())
                or architecture.input_size
            )
            spec = ModelSpec(
                architecture=data["architecture"],
                num_classes=data["num_classes"],
                input_size=size,
                mean=_floats(data["mean"], "mean") if data["mean"] else IMAGENET_MEAN,
                std=_floats(data["std"], "std") if data["std"] else IMAGENET_STD,
                class_names=_names(data["class_names"]),
                layers=_names(data["layers"]) or architecture.layers,
                task=data["task"] or None,
                seed=data["seed"],
            )
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        data["spec"] = spec
        return data


def face_model_initial(info: WeightsInfo) -> dict[str, str | int]:
    """Form values for what a weights file says (`modelsvc.weights_inspect`)."""
    spec = info.spec
    return {
        "weights_format": info.weights_format,
        "architecture": spec.architecture,
        "num_classes": spec.num_classes,
        "input_size": ", ".join(map(str, spec.input_size)),
        "mean": ", ".join(map(str, spec.mean)),
        "std": ", ".join(map(str, spec.std)),
        "class_names": ", ".join(spec.class_names),
        "task": spec.task or "",
        "layers": ", ".join(spec.layers),
        "seed": spec.seed,
    }


MODEL_JOB_KINDS = [c for c in Job.Kind.choices if c[0] not in (Job.Kind.REPORT, Job.Kind.ADAPTIVE)]


class JobLaunchForm(forms.Form):
    kind = forms.ChoiceField(choices=MODEL_JOB_KINDS)  # reports and fits start from a study
    study = forms.ModelChoiceField(
        queryset=Study.objects.none(),
        required=False,
        help_text="Optional: the job belongs to this study (and runs on its stimulus set).",
    )
    stimulus_set = forms.ModelChoiceField(queryset=StimulusSet.objects.all(), required=False)
    face_models = forms.ModelMultipleChoiceField(
        queryset=FaceModel.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text='JSON, e.g. finetune {"label_column": "gender", "seed": 1}; relevance '
        '{"method": "epsilon_plus_flat"}; embeddings {"metrics": ["correlation"]}; '
        'masking {"fractions": [0.05, 0.1, 0.2], "fill": "mean"}; dissection '
        '{"layers": ["features.4"], "local_columns": {"nose_shape": "nose"}, '
        '"global_columns": ["smile"]} (generated faces need no columns); maps (relevance maps '
        'compared across at least two models with relevance on the set) {"top_fraction": 0.1, '
        '"n_boot": 1000, "seed": 0}.',
    )

    def __init__(self, *args, studies=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies if studies is not None else Study.objects.none()

    def clean(self):
        data = super().clean()
        if not data.get("study") and not data.get("stimulus_set"):
            raise forms.ValidationError("Choose a study or a stimulus set.")
        if data.get("kind") == Job.Kind.MAPS:
            self._check_map_comparison(data)
        study = data.get("study")
        stimulus_set = study.stimulus_set if study else data.get("stimulus_set")
        if "params" in data and data.get("kind") and stimulus_set is not None:
            try:  # names, then values: a bad one is a form error, never a failed job
                job_parameters_check(data["kind"], data["params"])
                job_values_check(
                    kind=data["kind"],
                    params=data["params"],
                    stimulus_set=stimulus_set,
                    face_models=list(data.get("face_models") or []),
                )
            except (ValueError, TypeError) as error:
                self.add_error("params", str(error))
        if data.get("kind") == Job.Kind.DISSECTION and "params" in data:
            try:  # the Face Dictionary and the layers are checked now, never in a failed job
                dissection_check(stimulus_set=stimulus_set, params=data["params"])
                for face_model in data.get("face_models") or []:
                    spec = ModelSpec.from_dict(face_model.spec)
                    try:
                        dissection_layers(spec, data["params"].get("layers"))
                    except ValueError as error:
                        raise ValueError(f"model {face_model.name!r}: {error}") from error
            except ValueError as error:
                raise forms.ValidationError(f"Dissection: {error}") from error
        return data

    def _check_map_comparison(self, data: dict) -> None:
        if len(data.get("face_models") or []) < 2:
            self.add_error("face_models", "Comparing relevance maps needs at least two models.")
        if "params" in data:
            try:
                map_comparison_settings(data["params"])
            except ValueError as error:
                self.add_error("params", str(error))

    def clean_params(self) -> dict:
        text = self.cleaned_data["params"].strip() or "{}"
        try:
            params = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
            _check_storable(params)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            raise forms.ValidationError(f"Not valid JSON: {error}.") from error
        if not isinstance(params, dict):
            raise forms.ValidationError("The parameters must be a JSON object.")
        return params


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(v) for v in _names(text)]
    except ValueError as error:
        raise forms.ValidationError(
            f"Seeds are whole numbers, e.g. 1, 2, 3; got {text!r}."
        ) from error
    if not seeds or min(seeds) < 0 or max(seeds) > 2**31 - 1:
        raise forms.ValidationError(f"Give one or more seeds in [0, 2147483647]; got {text!r}.")
    return seeds


class ModelGridForm(forms.Form):
    """Pretrained bases x tasks x seeds; every combination becomes one finetune job."""

    bases = forms.ModelMultipleChoiceField(
        queryset=FaceModel.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The pretrained models (one per pretraining).",
    )
    stimulus_set = forms.ModelChoiceField(queryset=StimulusSet.objects.all())
    tasks = forms.CharField(initial="gender, identity", help_text="Label columns, comma separated.")
    seeds = forms.CharField(initial="1, 2, 3", help_text="Finetuning seeds (initialisation only).")
    group_column = forms.CharField(
        required=False,
        initial="identity",
        help_text="Keep its groups on one side of the split (empty: no groups).",
    )
    train_last = forms.IntegerField(
        required=False, min_value=1, max_value=1000, initial=1, help_text="Trainable layers."
    )
    max_epochs = forms.IntegerField(required=False, min_value=1, max_value=10_000, initial=60)

    def clean_tasks(self) -> list[str]:
        tasks = list(_names(self.cleaned_data["tasks"]))
        if not tasks:
            raise forms.ValidationError("Give at least one label column.")
        return tasks

    def clean_seeds(self) -> list[int]:
        return _seeds(self.cleaned_data["seeds"])

    def params(self) -> dict:
        """The shared finetuning settings the form sets."""
        data = self.cleaned_data
        params = {"group_column": data["group_column"].strip() or None}
        for name in ("train_last", "max_epochs"):
            if data[name] is not None:
                params[name] = data[name]
        return params
