"""Registering a model in the browser: choosing the weights file fills in the form."""

import pytest

from modelsvc import ModelSpec
from modelsvc.weights import build_model, save_checkpoint
from studyapp.models import FaceModel
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, django_user_model) -> None:
    django_user_model.objects.create_user("ada", password="correct horse battery")
    page.goto(f"{live_server.url}/research/models/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/research/models/")


def test_a_checkpoint_fills_the_form_and_a_bad_file_is_explained(
    page, live_server, django_user_model, tmp_path
):
    spec = ModelSpec(
        "small_cnn",
        2,
        input_size=(32, 32),
        class_names=("female", "male"),
        task="gender",
        training={"val_accuracy": 0.75},
    )
    save_checkpoint(tmp_path / "gender.pt", build_model(spec), spec)
    (tmp_path / "notes.pt").write_text("not tensors")
    log_in(page, live_server, django_user_model)

    page.set_input_files("#id_weights", str(tmp_path / "notes.pt"))
    status = page.locator("#weights-detected")
    status.filter(has_text="this is not a PyTorch weights file").wait_for()
    assert "error" in status.get_attribute("class")
    assert str(tmp_path) not in status.text_content()

    page.set_input_files("#id_weights", str(tmp_path / "gender.pt"))
    status.filter(has_text="validation accuracy 0.75").wait_for()
    assert page.input_value("#id_weights_format") == "checkpoint"
    assert page.input_value("#id_architecture") == "small_cnn"
    assert page.input_value("#id_num_classes") == "2"
    assert page.input_value("#id_class_names") == "female, male"
    assert page.input_value("#id_task") == "gender"
    assert page.input_value("#id_input_size") == "32, 32"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "researcher-model-detected.png"), full_page=True)
    page.fill("#id_name", "gender model")
    page.click("#model-form button[type=submit]")
    page.get_by_text("Registered gender model: its weights load.").wait_for()
    model = FaceModel.objects.get(name="gender model")
    assert model.spec["training"] == {"val_accuracy": 0.75}
    assert model.spec["class_names"] == ["female", "male"]
    assert "0.75" in page.locator("table").text_content()
