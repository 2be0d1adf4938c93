"""The built-in dlib network as a platform model: registered by a command, listed with its
provenance and licence, and its spec loads (skipped without face-recognition-models)."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from modelsvc import ModelSpec, load_model
from modelsvc.builtin import get_builtin
from studyapp.models import FaceModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def builtin():
    model = get_builtin("dlib_resnet29")
    try:
        model.weights_path()
    except ValueError as exc:
        pytest.skip(str(exc))
    return model


def test_command_registers_the_builtin_network_once(builtin):
    call_command("register_builtin_models")
    call_command("register_builtin_models")  # idempotent: refreshed, not duplicated
    (row,) = FaceModel.objects.filter(name="dlib_resnet29")
    assert row.architecture == "dlib_resnet29"
    assert row.pretraining == FaceModel.Pretraining.FACEREC_DLIB
    assert "CC0 1.0" in row.description
    assert "3 million faces" in row.description
    spec = ModelSpec.from_dict(row.spec)
    assert spec.weights_format == "dlib_dat"
    assert row.weights_sha256 == spec.weights_sha256
    assert spec.num_classes == 128
    load_model(spec)  # the stored spec loads (sha256 checked)


def test_models_page_shows_provenance_and_licence(builtin, staff_client):
    call_command("register_builtin_models")
    page = staff_client.get(reverse("research-models")).content.decode()
    assert "dlib_resnet29" in page
    assert "CC0 1.0 Universal" in page
    assert "99.38 % on LFW" in page


def test_a_user_model_with_the_same_name_is_not_overwritten(builtin):
    FaceModel.objects.create(name="dlib_resnet29", architecture="small_cnn", spec={})
    with pytest.raises(CommandError, match="already exists"):
        call_command("register_builtin_models")
    assert FaceModel.objects.get(name="dlib_resnet29").architecture == "small_cnn"
