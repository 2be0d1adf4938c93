"""Deleting a stimulus set or a face model in the admin deletes the files only it used; a
single stimulus is not deleted (trial plans and answers name it)."""

import io

import pytest
import torch
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from modelsvc import ModelSpec, load_model
from studyapp.models import AuditEvent, FaceModel, Stimulus, StimulusSet
from studyapp.services.face_models import face_model_register
from studyapp.storage import stimulus_storage
from tests.compute_fixtures import small_model
from tests.factories import (
    make_relevance_artifact,
    make_stimulus_set,
    make_study,
    start_participant,
)

pytestmark = pytest.mark.django_db(transaction=True)


def delete_in_admin(staff_client, model: str, pk: int):
    url = reverse(f"admin:studyapp_{model}_delete", args=[pk])
    return staff_client.post(url, {"post": "yes"})


def test_a_stimulus_set_goes_with_its_own_files_and_keeps_shared_ones(staff_client):
    kept = make_stimulus_set(4)  # same images as the first 4 of the deleted set
    doomed = make_stimulus_set(6)
    artifact = make_relevance_artifact(doomed, stimuli=2)
    images = set(doomed.stimuli.values_list("image", flat=True))
    shared = set(kept.stimuli.values_list("image", flat=True))
    own = images - shared
    assert len(own) == 2
    assert len(shared) == 4

    response = delete_in_admin(staff_client, "stimulusset", doomed.pk)

    assert response.status_code == 302
    assert not StimulusSet.objects.filter(pk=doomed.pk).exists()
    storage = stimulus_storage()
    assert not any(storage.exists(name) for name in own)
    assert all(storage.exists(name) for name in shared)
    assert not default_storage.exists(artifact.file.name)
    assert Stimulus.objects.filter(stimulus_set=kept).count() == 4
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELETE)
    assert event.detail["stimulus_set"] == doomed.name


def test_a_stimulus_set_a_study_uses_is_not_deleted(staff_client):
    study = make_study()
    names = list(study.stimulus_set.stimuli.values_list("image", flat=True))

    delete_in_admin(staff_client, "stimulusset", study.stimulus_set.pk)

    assert StimulusSet.objects.filter(pk=study.stimulus_set.pk).exists()
    assert all(stimulus_storage().exists(name) for name in names)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DELETE).exists()


def test_a_single_stimulus_is_not_deleted_in_the_admin(staff_client):
    study = make_study()
    start_participant(study)
    stimulus = study.stimulus_set.stimuli.order_by("pk").first()

    response = delete_in_admin(staff_client, "stimulus", stimulus.pk)

    assert response.status_code == 403
    assert Stimulus.objects.filter(pk=stimulus.pk).exists()
    assert stimulus_storage().exists(stimulus.image.name)
    for page in ("changelist", "change"):
        args = [stimulus.pk] if page == "change" else []
        shown = staff_client.get(reverse(f"admin:studyapp_stimulus_{page}", args=args))
        assert shown.status_code == 200
        assert "delete_selected" not in shown.content.decode()  # the bulk action
        assert "/delete/" not in shown.content.decode()  # the change page's link


def uploaded_model(name: str) -> FaceModel:
    spec = ModelSpec(architecture="small_cnn", num_classes=2, input_size=(64, 64))
    buffer = io.BytesIO()
    torch.save(load_model(spec).state_dict(), buffer)
    upload = SimpleUploadedFile(f"{name}.pt", buffer.getvalue())
    return face_model_register(
        name=name, spec=spec, weights_format="torchvision", weights_upload=upload
    )


def test_a_face_model_goes_with_its_weights_and_artifacts(staff_client):
    model = uploaded_model("doomed")
    artifact = make_relevance_artifact(make_stimulus_set(3), face_model=model)
    weights = model.weights.name
    assert default_storage.exists(weights)

    response = delete_in_admin(staff_client, "facemodel", model.pk)

    assert response.status_code == 302
    assert not FaceModel.objects.filter(pk=model.pk).exists()
    assert not default_storage.exists(weights)
    assert not default_storage.exists(artifact.file.name)


def test_a_face_model_with_finetuned_children_is_not_deleted(staff_client):
    parent = uploaded_model("parent")
    child = small_model("child")
    child.parent = parent
    child.save()

    delete_in_admin(staff_client, "facemodel", parent.pk)

    assert FaceModel.objects.filter(pk=parent.pk).exists()
    assert default_storage.exists(parent.weights.name)
