"""The launch form refuses parameter values a model job could not run with (before the job
exists: an unknown similarity metric used to be found after the last batch of an embeddings job
ran), and accepts every value the workers take, defaults and the values the demo uses."""

import json

import pytest

from studyapp.forms_compute import JobLaunchForm
from studyapp.models import Job
from tests.compute_fixtures import small_model
from tests.factories import make_stimulus_set

pytestmark = pytest.mark.django_db

REFUSED = [
    (Job.Kind.EMBEDDINGS, {"pooling": "max"}, "'pooling'"),
    (Job.Kind.EMBEDDINGS, {"metrics": ["manhattan"]}, "'metrics' must be among"),
    (Job.Kind.EMBEDDINGS, {"metrics": "correlation"}, "'metrics' must be a non-empty list"),
    (Job.Kind.EMBEDDINGS, {"metrics": []}, "'metrics' must be a non-empty list"),
    (Job.Kind.EMBEDDINGS, {"layers": ["features.99"]}, "Layer 'features.99' is not a layer"),
    (Job.Kind.EMBEDDINGS, {"layers": "features.4"}, "'layers' must be a non-empty list"),
    (Job.Kind.RELEVANCE, {"method": "lrp"}, "'method' parameter of a relevance job"),
    (Job.Kind.RELEVANCE, {"parameters": {"gamma": 1}}, "'parameters'"),
    (Job.Kind.RELEVANCE, {"parameters": {"epsilon": -1}}, "'epsilon'"),
    (Job.Kind.RELEVANCE, {"parameters": [1]}, "'parameters' must be a JSON object"),
    (Job.Kind.RELEVANCE, {"target": "hair"}, "'target' must be 'predicted' or a label column"),
    (Job.Kind.MASKING, {"fractions": [0.5, 0.1]}, "strictly increasing"),
    (Job.Kind.MASKING, {"fractions": 0.1}, "'fractions' must be a list"),
    (Job.Kind.MASKING, {"fill": "purple"}, "'fill'"),
    (Job.Kind.MASKING, {"blur_sigma": 2.0}, "only applies to fill='blur'"),
    (Job.Kind.MASKING, {"fill": "zeros", "fill_value": [0.5, 0.5, 0.5]}, "'fill_value'"),
    (Job.Kind.MASKING, {"baselines": ["none"]}, "'baselines' must be among"),
    (Job.Kind.MASKING, {"relevance": {"method": "lrp"}}, "'method' parameter"),
    (Job.Kind.DECISION, {"conditions": ["blurred"]}, "'conditions' must be among"),
    (Job.Kind.DECISION, {"metric": "manhattan"}, "'metric'"),
    (Job.Kind.DECISION, {"layer": "features.99"}, "Layer 'features.99' is not a layer"),
    (Job.Kind.DECISION, {"seed": -1}, "'seed'"),
    (Job.Kind.FINETUNE, {"label_column": "hair"}, "'label_column' must be a label column"),
    (Job.Kind.FINETUNE, {"label_column": "gender", "max_epochs": 0}, "'max_epochs'"),
    (Job.Kind.FINETUNE, {"label_column": "gender", "group_column": "x"}, "'group_column'"),
    (Job.Kind.FINETUNE, {"label_column": "gender", "name": ""}, "'name' must be a non-empty"),
]
ACCEPTED = [
    (Job.Kind.EMBEDDINGS, {}),
    (Job.Kind.EMBEDDINGS, {"pooling": "flatten", "metrics": ["cosine", "euclidean"]}),
    (Job.Kind.EMBEDDINGS, {"layers": ["features.11", "classifier.1"]}),
    (Job.Kind.RELEVANCE, {"method": "epsilon_gamma_box", "parameters": {"gamma": 0.5}}),
    (Job.Kind.RELEVANCE, {"target": "identity"}),
    (Job.Kind.MASKING, {"fractions": [0.1, 0.5], "fill": "blur", "blur_sigma": 3.0}),
    (Job.Kind.MASKING, {"fill": "zeros", "baselines": []}),
    (Job.Kind.DECISION, {"fractions": [0.05, 0.1, 0.2, 0.3, 0.5], "layer": "features.11"}),
    (Job.Kind.DECISION, {"fill": "mean", "fill_value": [0.4, 0.5, 0.6]}),
    (Job.Kind.FINETUNE, {"label_column": "identity", "seed": 2, "train_last": None}),
    (Job.Kind.FINETUNE, {"label_column": "gender", "group_column": "identity", "name": "m"}),
]


def launch_form(kind: str, params: dict) -> JobLaunchForm:
    return JobLaunchForm(
        {
            "kind": kind,
            "stimulus_set": make_stimulus_set(4).pk,
            "face_models": [small_model(f"values-{kind}").pk],
            "params": json.dumps(params),
        }
    )


@pytest.mark.parametrize(("kind", "params", "message"), REFUSED)
def test_a_value_the_job_could_not_run_with_is_a_form_error(kind, params, message):
    form = launch_form(kind, params)
    assert not form.is_valid()
    [error] = form.errors["params"]
    assert message in error


@pytest.mark.parametrize(("kind", "params"), ACCEPTED)
def test_values_the_workers_take_are_accepted(kind, params):
    form = launch_form(kind, params)
    assert form.is_valid(), form.errors
