"""The study dashboard's live numbers (GET on the study's status URL), the pipeline guard while
its jobs run, and the confirmation after opening or closing a study."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from studyapp.models import FaceModel, Job, Response, StudyMembership
from studyapp.payloads import parse_response
from studyapp.selectors.dashboard import responses_over_time
from studyapp.services.responses import response_record
from studyapp.storage import store_file
from tests.factories import answer_for, make_report_artifact, make_study, start_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(django_user_model):
    study = make_study(trial_types=["triplet"], catch_rate=0.2)
    for role in ("viewer", "collaborator"):
        user = django_user_model.objects.create_user(role, password="pw")
        StudyMembership.objects.create(study=study, user=user, role=role)
    return study


def client_as(client, django_user_model, name):
    client.force_login(django_user_model.objects.get(username=name))
    return client


def live(client, study) -> dict:
    response = client.get(reverse("research-study-status", args=[study.slug]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    return response.json()


def test_the_status_follows_responses_catch_failures_jobs_and_reports(
    client, django_user_model, study
):
    viewer = client_as(client, django_user_model, "viewer")
    empty = live(viewer, study)
    assert empty["progress"] == dict.fromkeys(
        ("started", "completed", "in_progress", "excluded", "declined", "responses"), 0
    )
    assert empty["quality"]["median_rt_ms"] is None
    assert (empty["pipeline"], empty["report"]) == ({"running": False, "models": 0}, None)

    participant = start_participant(study)
    catches = participant.trials.filter(role="catch").order_by("index")
    wrong = catches.first()
    body = answer_for(wrong, study)
    body["choice"] = next(i for i in wrong.items if i != wrong.correct_item)
    response_record(token=participant.token, payload=parse_response(body))
    main = participant.trials.filter(role="main").first()
    response_record(
        token=participant.token, payload=parse_response({**answer_for(main, study), "rt_ms": 900})
    )
    after = live(viewer, study)
    assert after["progress"]["started"] == after["progress"]["in_progress"] == 1
    assert after["progress"]["responses"] == 2
    assert after["quality"] == {
        "catch_failures": 1,
        "catch_trials": 1,
        "median_rt_ms": 900.0,
        "flagged": 1,
    }
    assert after["version"] != empty["version"]

    job = Job.objects.create(kind="report", stimulus_set=study.stimulus_set, study=study)
    assert live(viewer, study)["pipeline"]["running"] is True
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    report = make_report_artifact(study, job=job)
    done = live(viewer, study)
    assert done["pipeline"]["running"] is False
    assert done["report"]["id"] == report.pk


def test_the_dashboard_renders_the_version_it_polls_against(client, django_user_model, study):
    viewer = client_as(client, django_user_model, "viewer")
    page = viewer.get(reverse("research-study", args=[study.slug])).content.decode()
    assert f'data-live-version="{live(viewer, study)["version"]}"' in page
    assert 'data-report-id=""' in page


def test_a_viewer_may_read_the_status_but_not_change_it(client, django_user_model, study):
    viewer = client_as(client, django_user_model, "viewer")
    url = reverse("research-study-status", args=[study.slug])
    assert viewer.post(url, {"status": "closed"}).status_code == 403
    study.refresh_from_db()
    assert study.status == "live"
    assert viewer.put(url).status_code == 405


@pytest.mark.parametrize(
    ("status", "message"),
    [("closed", "The study is closed"), ("live", "The study is open"), ("nonsense", "must be")],
)
def test_opening_or_closing_says_what_was_done(client, django_user_model, study, status, message):
    study.status = "draft"
    study.save()
    collaborator = client_as(client, django_user_model, "collaborator")
    response = collaborator.post(
        reverse("research-study-status", args=[study.slug]), {"status": status}
    )
    texts = [m.message for m in get_messages(response.wsgi_request)]
    assert len(texts) == 1, texts
    assert message in texts[0]


def test_the_pipeline_is_not_launched_again_while_its_jobs_run(
    client, django_user_model, study, monkeypatch
):
    monkeypatch.setattr("studyapp.services.jobs.enqueue", lambda *args: None)
    weights, _ = store_file("weights/guard.pt", b"weights")
    study.face_models.set(
        [FaceModel.objects.create(name="m", architecture="small_cnn", spec={}, weights=weights)]
    )
    collaborator = client_as(client, django_user_model, "collaborator")
    url = reverse("research-pipeline", args=[study.slug])
    collaborator.post(url)
    assert Job.objects.filter(study=study).count() == 5
    page = collaborator.get(reverse("research-study", args=[study.slug])).content.decode()
    assert 'id="launch-pipeline" disabled' in page
    response = collaborator.post(url)
    assert "still running" in [m.message for m in get_messages(response.wsgi_request)][-1]
    assert Job.objects.filter(study=study).count() == 5


def test_the_responses_chart_counts_per_minute_for_a_short_study(study):
    participant = start_participant(study)
    trials = list(participant.trials.order_by("index")[:3])
    for trial in trials:
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    start = (
        Response.objects.order_by("received_at")
        .first()
        .received_at.replace(second=0, microsecond=0)
    )
    Response.objects.filter(trial=trials[2]).update(received_at=start + timedelta(minutes=2))
    unit, counts = responses_over_time(study=study)
    assert unit == "minute"
    assert counts[-1] == (start + timedelta(minutes=2), 1)
    assert sum(n for _, n in counts) == 3
    Response.objects.filter(trial=trials[2]).update(received_at=start + timedelta(days=2))
    assert responses_over_time(study=study)[0] == "hour"
    Response.objects.filter(trial=trials[2]).update(received_at=start + timedelta(days=30))
    assert responses_over_time(study=study) == (
        "day",
        [
            (start.replace(hour=0, minute=0), 2),
            ((start + timedelta(days=30)).replace(hour=0, minute=0), 1),
        ],
    )
