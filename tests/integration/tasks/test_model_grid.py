"""The model grid, launched from its page and its manage command, run by a real Celery worker."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from studyapp.models import FaceModel, Job
from tests.compute_fixtures import small_model, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def bases():
    faces = small_model("grid base: faces", seed=1)
    objects = small_model("grid base: objects", seed=2)
    FaceModel.objects.filter(pk=faces.pk).update(pretraining="facegen")
    FaceModel.objects.filter(pk=objects.pk).update(pretraining="objectgen")
    return [faces, objects]


def test_the_page_launches_every_model_of_the_grid_and_the_command_reuses_them(
    worker, staff_client, faces
):
    models = bases()
    form = {
        "bases": [m.pk for m in models],
        "stimulus_set": faces.pk,
        "tasks": "gender, identity",
        "seeds": "1, 2",
        "group_column": "identity",
        "train_last": 1,
        "max_epochs": 2,
    }
    response = staff_client.post(reverse("research-model-grid"), form)
    assert response.status_code == 302
    jobs = list(Job.objects.filter(kind=Job.Kind.FINETUNE).order_by("pk"))
    assert len(jobs) == 8
    for job in jobs:
        assert wait_for(job).status == Job.Status.SUCCEEDED, job.error
    children = FaceModel.objects.filter(parent__in=models)
    assert sorted((m.pretraining, m.task, m.seed) for m in children) == sorted(
        (p, t, s) for p in ("facegen", "objectgen") for t in ("gender", "identity") for s in (1, 2)
    )
    for child in children:
        assert child.name == f"{child.parent.name} → {child.task}, seed {child.seed}"
        assert child.pretraining == child.parent.pretraining
    for task in ("gender", "identity"):  # the seed varies initialisation, not the split
        splits = {json.dumps(m.spec["training"]["split"]) for m in children.filter(task=task)}
        assert len(splits) == 1
    groups = {m.task: m.spec["training"]["group_column"] for m in children}
    assert groups == {"gender": "identity", "identity": None}

    before = Job.objects.count()
    call_command(
        "model_grid",
        *[arg for m in models for arg in ("--base", m.name)],
        "--stimulus-set", faces.name, "--tasks", "gender,identity", "--seeds", "1,2",
        "--params", json.dumps({"group_column": "identity", "train_last": 1, "max_epochs": 2}),
        "--wait",
    )  # fmt: skip
    again = Job.objects.order_by("pk")[before:]
    assert len(again) == 8
    assert all("reused" in job.note for job in again), [job.note for job in again]
    assert FaceModel.objects.filter(parent__in=models).count() == 8


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tasks": "gender, age"}, "must be label columns of every image"),
        ({"seeds": "1, x"}, "Seeds are whole numbers"),
        ({"seeds": "1, 1"}, "The &#x27;seeds&#x27; parameter of grid_cells"),
        ({"bases": []}, "This field is required"),
        ({"max_epochs": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_grids_are_refused_with_a_400_and_nothing_is_launched(
    staff_client, faces, changes, message
):
    models = bases()
    form = {
        "bases": [m.pk for m in models],
        "stimulus_set": faces.pk,
        "tasks": "gender",
        "seeds": "1",
        **changes,
    }
    response = staff_client.post(reverse("research-model-grid"), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_the_command_names_what_is_missing(faces):
    bases()
    with pytest.raises(CommandError, match="No model is called 'nope'"):
        call_command("model_grid", "--base", "nope", "--stimulus-set", faces.name,
                     "--tasks", "gender", "--seeds", "1")  # fmt: skip
