"""The map-comparison job with a real worker: two models' relevance maps compared without a
study, the same numbers as `compare_maps` on the stored maps, reused on a second launch; a
model without relevance fails the job with a message; the launch form checks the inputs."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from analysis.map_comparison import compare_maps
from analysis.replication import ORDER
from studyapp.forms_compute import JobLaunchForm
from studyapp.models import Artifact, Job
from studyapp.services.jobs import job_launch
from studyapp.storage import read_arrays
from tests.compute_fixtures import small_model, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PARAMS = {"n_boot": 200, "seed": 3}


def relevance_for(faces, models):
    job = job_launch(
        kind=Job.Kind.RELEVANCE,
        stimulus_set=faces,
        face_models=models,
        params={"target": "predicted"},
    )
    assert wait_for(job, timeout=300).status == Job.Status.SUCCEEDED


def member(artifact: Artifact, name: str) -> bytes:
    with artifact.file.open("rb") as handle, zipfile.ZipFile(handle) as zipped:
        return zipped.read(name)


def test_two_models_maps_are_compared_as_compare_maps_does_and_reused(worker, media, faces):
    gender = small_model("maps-gender")
    identity = small_model(
        "maps-identity", classes=[f"id{i:02d}" for i in range(6)], task="identity"
    )
    relevance_for(faces, [gender, identity])
    job = job_launch(
        kind=Job.Kind.MAPS, stimulus_set=faces, face_models=[gender, identity], params=PARAMS
    )
    job = wait_for(job, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error
    artifact = Artifact.objects.get(kind=Artifact.Kind.MAP_COMPARISON, job=job)
    assert artifact.params["models"] == [gender.pk, identity.pk]
    assert artifact.summary["n_images"] == faces.stimuli.count()
    pairs = pd.read_csv(io.BytesIO(member(artifact, "tables/map_agreement_pairs.csv")))
    parts = pd.read_csv(io.BytesIO(member(artifact, "tables/consensus_parts.csv")))
    assert member(artifact, "figures/consensus_maps.png").startswith(b"\x89PNG")
    assert {"left_eye", "mouth"} <= set(parts["part"])

    maps = {}
    for model in (gender, identity):
        stored = Artifact.objects.get(kind=Artifact.Kind.RELEVANCE, face_model=model)
        arrays = read_arrays(stored.file.name, stored.sha256)
        order = np.argsort(arrays["stimulus_ids"])
        maps[model.name] = arrays["maps"][order]
    info = pd.DataFrame(
        [
            {"model": m.name, "pretraining": m.pretraining, "task": m.task, "seed": m.seed}
            for m in (gender, identity)
        ]
    )
    expected = compare_maps(maps, info, ORDER, n_boot=200, random_state=3).pairs
    assert len(pairs) == 1
    for column in ("spearman", "spearman_ci_low", "top_iou", "top_iou_ci_high"):
        assert pairs[column].item() == pytest.approx(expected[column].item(), abs=1e-9)

    again = wait_for(
        job_launch(
            kind=Job.Kind.MAPS, stimulus_set=faces, face_models=[gender, identity], params=PARAMS
        )
    )
    assert again.status == Job.Status.SUCCEEDED
    assert "reused" in again.note
    assert Artifact.objects.filter(kind=Artifact.Kind.MAP_COMPARISON).count() == 1


def test_a_model_without_relevance_fails_the_job_with_its_name(worker, media, faces):
    first, second = small_model("maps-with"), small_model("maps-without", seed=1)
    relevance_for(faces, [first])
    job = wait_for(job_launch(kind=Job.Kind.MAPS, stimulus_set=faces, face_models=[first, second]))
    assert job.status == Job.Status.FAILED
    assert "No relevance maps on this stimulus set for ['maps-without']" in job.error
    assert not Artifact.objects.filter(kind=Artifact.Kind.MAP_COMPARISON).exists()


@pytest.mark.parametrize(
    ("models", "params", "field", "message"),
    [
        (1, "{}", "face_models", "at least two models"),
        (2, '{"n_boot": 5}', "params", "'n_boot' must be an integer in [100, 100000]"),
        (2, '{"top": 0.1}', "params", "Unknown map-comparison parameters ['top']"),
    ],
)
def test_the_launch_form_checks_a_map_comparison(faces, models, params, field, message):
    chosen = [small_model(f"form-maps-{i}", seed=i) for i in range(models)]
    form = JobLaunchForm(
        {
            "kind": Job.Kind.MAPS,
            "stimulus_set": faces.pk,
            "face_models": [m.pk for m in chosen],
            "params": params,
        }
    )
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors
