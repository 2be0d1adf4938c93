"""A job parameter name its kind does not read is refused at launch, by the dashboard's form and
by ``job_launch`` (every other launch path), and nothing is created: a misspelt name would
otherwise be ignored and the job would run its default without a word."""

import dataclasses
import json

import pytest

from modelsvc import FinetuneSettings
from studyapp.forms_compute import JobLaunchForm
from studyapp.job_parameters import FILLED_IN, FINETUNE_SETTINGS, NAMES, RELEVANCE
from studyapp.models import Job
from studyapp.services.jobs import job_launch
from tasks.computations import decision, embeddings, masking, relevance
from tests.compute_fixtures import small_model
from tests.factories import make_stimulus_set

pytestmark = pytest.mark.django_db

ACCEPTED = {
    Job.Kind.EMBEDDINGS: '{"metrics": ["correlation"], "pooling": "gap"}',
    Job.Kind.RELEVANCE: '{"method": "epsilon_plus_flat", "target": "predicted"}',
    Job.Kind.MASKING: '{"fractions": [0.05], "fill": "mean", "relevance": {"method": "gradient"}}',
    Job.Kind.DECISION: '{"fractions": [0.1], "metric": "cosine", "fill_value": [0.5, 0.5, 0.5]}',
    Job.Kind.FINETUNE: '{"label_column": "gender", "seed": 1, "max_epochs": 2, "name": "x"}',
}
MISSPELT = {
    Job.Kind.EMBEDDINGS: ("metric", {"metric": ["correlation"]}),
    Job.Kind.RELEVANCE: ("methods", {"methods": "epsilon_plus_flat"}),
    Job.Kind.MASKING: ("fraction", {"fraction": [0.1], "fill": "mean"}),
    Job.Kind.DECISION: ("metrics", {"metrics": "correlation"}),
    Job.Kind.FINETUNE: ("epochs", {"label_column": "gender", "epochs": 2}),
}


def launch_form(kind: str, params: str) -> JobLaunchForm:
    return JobLaunchForm(
        {
            "kind": kind,
            "stimulus_set": make_stimulus_set(4).pk,
            "face_models": [small_model(f"names-{kind}").pk],
            "params": params,
        }
    )


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_the_names_a_kind_reads_are_accepted(kind):
    form = launch_form(kind, ACCEPTED[kind])
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("kind", sorted(MISSPELT))
def test_the_form_refuses_a_misspelt_name_and_lists_the_known_ones(kind):
    name, params = MISSPELT[kind]
    form = launch_form(kind, json.dumps(params))
    assert not form.is_valid()
    [error] = form.errors["params"]
    assert error == f"Unknown {kind} parameters ['{name}']; known: {sorted(NAMES[kind])}."


@pytest.mark.parametrize("kind", sorted(MISSPELT))
def test_job_launch_refuses_a_misspelt_name_and_creates_nothing(kind):
    name, params = MISSPELT[kind]
    faces, model = make_stimulus_set(4), small_model(f"launch-{kind}")
    with pytest.raises(ValueError, match=rf"Unknown {kind} parameters \['{name}'\]"):
        job_launch(kind=kind, stimulus_set=faces, face_models=[model], params=params)
    assert not Job.objects.exists()


@pytest.mark.parametrize("kind", [Job.Kind.MASKING, Job.Kind.DECISION])
def test_the_relevance_object_of_masking_and_decision_is_checked_too(kind):
    faces, model = make_stimulus_set(4), small_model(f"nested-{kind}")
    with pytest.raises(ValueError, match=rf"Unknown {kind} 'relevance' parameters \['methd'\]"):
        job_launch(
            kind=kind, stimulus_set=faces, face_models=[model], params={"relevance": {"methd": 1}}
        )
    with pytest.raises(ValueError, match="'relevance' must be a JSON object"):
        job_launch(kind=kind, stimulus_set=faces, face_models=[model], params={"relevance": "lrp"})
    assert not Job.objects.exists()


def test_the_table_names_exactly_what_the_workers_read():
    assert NAMES[Job.Kind.EMBEDDINGS] == set(embeddings.DEFAULTS)
    assert NAMES[Job.Kind.MASKING] == set(masking.DEFAULTS) | FILLED_IN
    assert NAMES[Job.Kind.DECISION] == set(decision.DEFAULTS) | FILLED_IN
    assert set(relevance.settings_for({}, small_model("table"))) == RELEVANCE
    fields = {field.name for field in dataclasses.fields(FinetuneSettings)}
    assert {"label_column", "seed", *FINETUNE_SETTINGS} <= fields
