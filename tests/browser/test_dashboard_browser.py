"""The study dashboard in a real browser: its panels follow the data without a reload.

Screenshots at 1,280 px go to tests/browser/artifacts/dashboard-*.png (not committed).
"""

import pytest

from studyapp.models import FaceModel, Job, StudyMembership
from studyapp.payloads import parse_response
from studyapp.services.responses import response_record
from studyapp.storage import store_file
from tests.browser.conftest import ARTIFACTS
from tests.factories import answer_for, make_report_artifact, make_study, start_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH = 1280
PASSWORD = "correct horse battery"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def log_in(page, live_server, username: str) -> None:
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/research/")


@pytest.fixture
def study(django_user_model):
    study = make_study(trial_types=["triplet"])
    user = django_user_model.objects.create_user("ada", password=PASSWORD)
    StudyMembership.objects.create(study=study, user=user, role="collaborator")
    weights, _ = store_file("weights/dashboard.pt", b"weights")
    study.face_models.set(
        [FaceModel.objects.create(name="m", architecture="small_cnn", spec={}, weights=weights)]
    )
    return study


def answer(participant, study, count: int) -> None:
    for trial in participant.trials.order_by("index")[:count]:
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))


def test_progress_and_results_panels_follow_the_data_without_a_reload(page, live_server, study):
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/research/studies/{study.slug}/")
    page.evaluate("window.notReloaded = true")
    assert page.inner_text("[data-stat=responses]") == "0"
    assert "No report yet" in page.inner_text("#results")
    assert page.is_enabled("#launch-pipeline")

    participant = start_participant(study)
    answer(participant, study, 3)
    page.wait_for_function(
        "() => document.querySelector('[data-stat=responses]').textContent === '3'",
        timeout=20_000,
    )
    assert page.inner_text("[data-stat=started]") == "1"
    page.wait_for_function(  # the participant table is refreshed too, and the charts reloaded
        "() => document.querySelectorAll('[data-live-fragment=participants] tr').length === 1"
        " && [...document.querySelectorAll('img[data-chart]')].every(i => i.src.includes('v='))",
        timeout=20_000,
    )
    assert f"3 / {participant.trials.count()}" in page.text_content(
        "[data-live-fragment=participants]"
    )

    job = Job.objects.create(
        kind="report", stimulus_set=study.stimulus_set, study=study, status="running"
    )
    page.wait_for_selector("#launch-pipeline:disabled", timeout=20_000)
    assert page.is_visible("#pipeline-running")
    shot(page, "running")

    Job.objects.filter(pk=job.pk).update(status="succeeded")
    make_report_artifact(study, job=job)
    page.wait_for_selector("#results #open-report", timeout=20_000)
    assert page.is_hidden("#pipeline-running")
    assert page.is_enabled("#launch-pipeline")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "results")
    for link, name in [
        ("#download-responses", f"{study.slug}-responses.csv"),
        ("#download-pdf", f"{study.slug}-report.pdf"),
        ("#download-report-zip", f"{study.slug}-report.zip"),
    ]:
        with page.expect_download() as info:
            page.click(link)
        assert info.value.suggested_filename == name


def test_models_are_ticked_on_the_dashboard_and_a_new_member_is_a_viewer(
    page, live_server, study, django_user_model
):
    weights, _ = store_file("weights/second.pt", b"weights")
    second = FaceModel.objects.create(
        name="second", architecture="small_cnn", spec={}, weights=weights
    )
    StudyMembership.objects.filter(study=study).update(role="owner")
    django_user_model.objects.create_user("grace", password=PASSWORD)
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/research/studies/{study.slug}/")
    first = study.face_models.get()
    page.uncheck(f"#models-form input[value='{first.pk}']")
    page.check(f"#models-form input[value='{second.pk}']")
    page.click("#save-models")
    page.wait_for_selector(".messages >> text=Models compared: second.")
    assert list(study.face_models.all()) == [second]
    assert page.is_checked(f"#models-form input[value='{second.pk}']")
    shot(page, "models")

    page.click("text=Members")
    page.fill("#username", "grace")
    page.click("#member-form button[type=submit]")
    page.wait_for_selector(".messages >> text=grace now has the Viewer role")
    assert study.memberships.get(user__username="grace").role == "viewer"
