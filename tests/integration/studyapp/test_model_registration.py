"""Registering a model from its weights file: detection, a kept file, errors in plain words."""

import io
from pathlib import Path

import pytest
import torch
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from modelsvc import ModelSpec, SmallCNN
from modelsvc.weights import build_model, save_checkpoint
from studyapp.models import FaceModel
from studyapp.services.weights_staging import STAGING

pytestmark = pytest.mark.django_db

INSPECT = "research-models-weights"


def torch_file(data, name="weights.pt") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def checkpoint_file(tmp_path) -> SimpleUploadedFile:
    spec = ModelSpec(
        "small_cnn",
        2,
        input_size=(32, 32),
        class_names=("female", "male"),
        task="gender",
        seed=3,
        training={"val_accuracy": 0.75},
    )
    save_checkpoint(tmp_path / "ck.pt", build_model(spec), spec)
    return SimpleUploadedFile("gender.pt", (tmp_path / "ck.pt").read_bytes())


def big_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("big.pt", b"x" * 200_000)


def staged_files() -> list[str]:
    root = Path(default_storage.path(STAGING))
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_checkpoint_fills_in_the_form_and_registers_from_its_staged_copy(staff_client, tmp_path):
    answer = staff_client.post(reverse(INSPECT), {"weights": checkpoint_file(tmp_path)})
    assert answer.status_code == 200
    found = answer.json()
    assert found["fields"]["weights_format"] == "checkpoint"
    assert found["fields"]["architecture"] == "small_cnn"
    assert found["fields"]["num_classes"] == 2
    assert found["fields"]["class_names"] == "female, male"
    assert found["fields"]["input_size"] == "32, 32"
    assert found["val_accuracy"] == 0.75
    assert "validation accuracy 0.75" in found["summary"]
    assert len(staged_files()) == 1
    form = {**found["fields"], "name": "gender", "pretraining": "none"}
    response = staff_client.post(
        reverse("research-models"), {**form, "staged_weights": found["token"]}
    )
    assert response.status_code == 302
    model = FaceModel.objects.get(name="gender")
    assert model.spec["training"] == {"val_accuracy": 0.75}
    assert model.weights.name.startswith("weights/gender")
    assert staged_files() == []


def test_a_bad_file_is_explained_in_plain_words_without_server_folders(staff_client, settings):
    bad = SimpleUploadedFile("notes.pt", b"these are not tensors")
    answer = staff_client.post(reverse(INSPECT), {"weights": bad})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "notes.pt: this is not a PyTorch weights file."
    assert staged_files() == []
    module = torch_file(SmallCNN(2), "model.pt")  # a whole pickled module
    form = {
        "name": "m",
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": 2,
        "seed": 0,
        "weights": module,
    }
    page = staff_client.post(reverse("research-models"), form).content.decode()
    assert "model.pt holds pickled Python objects" in page
    assert str(settings.PRIVATE_ROOT) not in page
    assert "weights_only" not in page
    assert not FaceModel.objects.exists()


def test_the_chosen_file_is_kept_after_a_form_error(staff_client):
    FaceModel.objects.create(name="taken", architecture="small_cnn", spec={})
    form = {
        "name": "taken",
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": 2,
        "seed": 0,
    }
    page = staff_client.post(
        reverse("research-models"), {**form, "weights": torch_file(SmallCNN(2).state_dict())}
    )
    assert "already exists" in page.content.decode()
    assert "Keeping weights.pt" in page.content.decode()
    token = page.context["form"]["staged_weights"].value()
    response = staff_client.post(
        reverse("research-models"), {**form, "name": "kept", "staged_weights": token}
    )
    assert response.status_code == 302
    assert FaceModel.objects.get(name="kept").spec["weights_format"] == "torchvision"


def test_staged_files_belong_to_whoever_staged_them(staff_client, django_user_model):
    token = staff_client.post(
        reverse(INSPECT), {"weights": torch_file(SmallCNN(2).state_dict())}
    ).json()["token"]
    other = django_user_model.objects.create_user("other", password="pw-other-1")
    client = Client()
    client.force_login(other)
    form = {
        "name": "stolen",
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": 2,
        "seed": 0,
        "staged_weights": token,
    }
    page = client.post(reverse("research-models"), form).content.decode()
    assert "The staged weights file is gone" in page
    assert not FaceModel.objects.exists()


def test_inspecting_needs_a_log_in_a_file_and_a_size_within_the_limit(staff_client, settings):
    anonymous = Client().post(reverse(INSPECT), {"weights": SimpleUploadedFile("w.pt", b"x")})
    assert anonymous.status_code == 302  # to the log-in page
    assert staff_client.get(reverse(INSPECT)).status_code == 405
    assert staff_client.post(reverse(INSPECT), {}).json()["error"]["code"] == "no_file"
    settings.FACESIM_MAX_WEIGHTS_UPLOAD_BYTES = 1_000
    answer = staff_client.post(reverse(INSPECT), {"weights": big_file()})
    assert answer.status_code == 413
    assert "the limit for weights is 1,000" in answer.json()["error"]["message"]
    form = staff_client.post(reverse("research-models"), {"name": "m", "weights": big_file()})
    assert form.status_code == 413
    assert "the limit for weights is 1,000" in form.content.decode()
    assert staged_files() == []
