"""Researcher pages for models, jobs and artifacts, with a real worker behind them."""

import hashlib
import io
import time

import pytest
import torch
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from modelsvc import SmallCNN
from studyapp.models import Artifact, FaceModel, Job
from tests.compute_fixtures import small_model

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def weights_file(num_classes: int, rename: bool = False) -> SimpleUploadedFile:
    state = SmallCNN(num_classes).state_dict()
    if rename:
        state["features.99.weight"] = state.pop("features.0.weight")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return SimpleUploadedFile("weights.pt", buffer.getvalue())


def model_form(name: str, **extra) -> dict:
    return {
        "name": name,
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": 2,
        "class_names": "female, male",
        "task": "gender",
        "seed": 0,
        "mean": "0.5, 0.5, 0.5",
        "std": "0.25 0.25 0.25",
        **extra,
    }


def test_registering_models_loads_their_weights_first(staff_client, media):
    url = reverse("research-models")
    ok = staff_client.post(
        url, model_form("fits", weights=weights_file(2), weights_format="torchvision")
    )
    assert ok.status_code == 302
    model = FaceModel.objects.get(name="fits")
    assert model.spec["weights_format"] == "torchvision"
    assert model.spec["mean"] == [0.5, 0.5, 0.5]
    assert model.spec["layers"] == ["features.11", "classifier.1"]  # the architecture's default
    assert model.weights_sha256 == hashlib.sha256(model.weights.read()).hexdigest()

    stored_before = sorted(default_storage.listdir("weights")[1])
    wrong_shape = staff_client.post(
        url, model_form("wrong shape", weights=weights_file(3), weights_format="torchvision")
    )
    renamed = staff_client.post(
        url,
        model_form("renamed", weights=weights_file(2, rename=True), weights_format="torchvision"),
    )
    assert wrong_shape.status_code == renamed.status_code == 200
    assert "classifier.3.weight" in wrong_shape.content.decode()  # the shape conflict
    body = renamed.content.decode()
    assert "features.0.weight" in body  # missing
    assert "features.99.weight" in body  # unexpected
    assert not FaceModel.objects.filter(name__in=["wrong shape", "renamed"]).exists()
    assert sorted(default_storage.listdir("weights")[1]) == stored_before  # refused files removed


def test_weights_format_is_detected_and_server_paths_must_be_allowed(
    staff_client, media, settings, tmp_path
):
    url = reverse("research-models")
    response = staff_client.post(url, model_form("no format", weights=weights_file(2)))
    assert response.status_code == 302
    assert FaceModel.objects.get(name="no format").spec["weights_format"] == "torchvision"
    outside = tmp_path / "outside.pt"
    torch.save(SmallCNN(2).state_dict(), outside)
    settings.FACESIM_WEIGHTS_DIRS = [str(tmp_path / "allowed")]
    response = staff_client.post(
        url, model_form("outside", weights_path=str(outside), weights_format="torchvision")
    )
    assert "outside the allowed folders" in response.content.decode()
    (tmp_path / "allowed").mkdir()
    inside = tmp_path / "allowed" / "inside.pt"
    inside.write_bytes(outside.read_bytes())
    response = staff_client.post(
        url, model_form("inside", weights_path=str(inside), weights_format="torchvision")
    )
    assert response.status_code == 302
    assert FaceModel.objects.get(name="inside").weights_path == str(inside)


def test_launch_watch_download_and_view_overlays(worker, faces, staff_client):
    model = small_model("page model")
    response = staff_client.post(
        reverse("research-jobs"),
        {
            "kind": "relevance",
            "stimulus_set": faces.pk,
            "face_models": [model.pk],
            "params": '{"method": "epsilon_plus_flat"}',
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("research-job", args=[job.pk])
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = staff_client.get(reverse("research-jobs-status"), {"ids": str(job.pk)}).json()[
            "jobs"
        ][0]
        seen.add((status["status"], status["done"]))
        if status["finished"]:
            break
        time.sleep(0.1)
    assert status["status"] == "succeeded"
    assert status["done"] == status["total"] == 24
    assert status["percent"] == 100
    page = staff_client.get(reverse("research-job", args=[job.pk])).content.decode()
    assert f'data-job-id="{job.pk}"' in page
    artifact = Artifact.objects.get(job=job)
    download = staff_client.get(reverse("research-artifact-download", args=[artifact.pk]))
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == artifact.sha256
    detail = staff_client.get(reverse("research-artifact", args=[artifact.pk]))
    assert len(detail.context["stimuli"]) == 24
    stimulus_id = detail.context["stimuli"][0][0]
    overlay = staff_client.get(
        reverse("research-relevance-overlay", args=[artifact.pk, stimulus_id])
    )
    assert overlay["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(overlay.content)).size == (64, 64)
    missing = staff_client.get(reverse("research-relevance-overlay", args=[artifact.pk, 999999]))
    assert missing.status_code == 404


def test_bad_launches_and_actions(staff_client, faces):
    model = small_model("bad launch model")
    response = staff_client.post(
        reverse("research-jobs"),
        {
            "kind": "relevance",
            "stimulus_set": faces.pk,
            "face_models": [model.pk],
            "params": "[1, 2",
        },
    )
    assert "Not valid JSON" in response.content.decode()
    assert not Job.objects.exists()
    assert staff_client.get(reverse("research-jobs-status"), {"ids": "a,b"}).status_code == 400
    assert staff_client.post("/research/jobs/1/explode").status_code == 404


def test_compute_pages_require_staff(client):
    for name, args in [
        ("research-models", []),
        ("research-jobs", []),
        ("research-jobs-status", []),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 302
