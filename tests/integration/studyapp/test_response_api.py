"""The participant JSON API: storing responses once, refusing bad payloads with 4xx, completing."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Response
from tests.factories import answer_for, make_study, start_participant
from tests.integration.studyapp.api_client import plan, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("trial_type", "scale"),
    [("triplet", "1-7"), ("afc", "1-7"), ("rating", "1-7"), ("rating", "0-100")],
)
def test_every_planned_trial_can_be_answered_then_completed(api, trial_type, scale):
    study = make_study(trial_types=[trial_type], rating_scale=scale)
    participant = start_participant(study)
    trials = plan(api, participant)["trials"]
    assert post(api, participant, {}, "api-complete").status_code == 422
    for trial in trials:
        response = post(api, participant, answer_for(trial, study))
        assert response.status_code == 201, response.json()
    assert Response.objects.filter(trial__participant=participant).count() == len(trials)
    done = post(api, participant, {}, "api-complete")
    assert done.status_code == 200
    assert done.json() == {
        "completion_code": "CODE123",
        "redirect_url": "https://example.org/done?cc=CODE123",
    }
    participant.refresh_from_db()
    assert participant.status == "completed"
    assert plan(api, participant)["completion"]["completion_code"] == "CODE123"


def test_plan_lists_trials_images_and_answered_state(api):
    study = make_study()
    participant = start_participant(study)
    body = plan(api, participant)
    first = body["trials"][0]
    assert first["role"] == "practice"
    assert set(map(int, body["images"])) >= set(first["items"])
    assert all(url.startswith("/media/stimuli/") for url in body["images"].values())
    post(api, participant, answer_for(first, study))
    assert plan(api, participant)["trials"][0]["answered"] is True


def test_a_repeated_post_returns_the_stored_response_and_writes_nothing(api):
    study = make_study()
    participant = start_participant(study)
    trial = plan(api, participant)["trials"][2]
    body = answer_for(trial, study)
    first = post(api, participant, body)
    again = post(api, participant, body)
    changed = post(api, participant, {**body, "rt_ms": 99.0})
    assert first.status_code == 201
    assert again.status_code == changed.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["received_at"] == first.json()["received_at"]
    stored = Response.objects.get(trial__participant=participant, trial__index=trial["index"])
    assert stored.rt_ms == body["rt_ms"]  # first write wins


def test_catch_trials_are_scored(api):
    study = make_study(trial_types=["triplet"], catch_rate=0.5, repeat_rate=0.0)
    participant = start_participant(study)
    catches = participant.trials.filter(role="catch").order_by("index")
    right, wrong = catches[0], catches[1]
    odd_one = right.correct_item
    same = next(i for i in wrong.items if i != wrong.correct_item)
    post(api, participant, {"trial": right.index, "choice": odd_one, "rt_ms": 700})
    post(api, participant, {"trial": wrong.index, "choice": same, "rt_ms": 700})
    assert Response.objects.get(trial=right).correct is True
    assert Response.objects.get(trial=wrong).correct is False


def invalid_cases(trial, study, other_item):
    """(description, body, expected status, expected error code)."""
    good = answer_for(trial, study)
    return [
        ("unknown trial", {**good, "trial": 9999}, 404, "unknown_trial"),
        ("choice not in trial", {**good, "choice": other_item}, 422, "invalid_choice"),
        ("negative rt", {**good, "rt_ms": -5}, 422, "implausible_rt"),
        ("zero rt", {**good, "rt_ms": 0}, 422, "implausible_rt"),
        ("absurd rt", {**good, "rt_ms": 1e9}, 422, "implausible_rt"),
        ("rating on a choice trial", {**good, "rating": 3}, 422, "unexpected_rating"),
        ("missing choice", {"trial": good["trial"], "rt_ms": 500}, 422, "missing_choice"),
        ("string choice", {**good, "choice": "left"}, 400, "invalid_type"),
        ("boolean trial", {**good, "trial": True}, 400, "invalid_type"),
        ("NaN rt", '{"trial": 1, "rt_ms": NaN, "choice": 1}', 400, "invalid_type"),
        ("not json", b"trial=1&choice=2", 400, "invalid_json"),
        ("json list", b"[1, 2, 3]", 400, "invalid_json"),
        ("bad utf-8", b'{"trial": "\xff"}', 400, "invalid_json"),
        ("unknown field", {**good, "is_admin": True}, 400, "unknown_field"),
        ("oversized body", {**good, "pad": "x" * 20_000}, 413, "too_large"),
    ]


def test_invalid_payloads_get_clear_4xx_errors_and_store_nothing(api):
    study = make_study(trial_types=["triplet"])
    participant = start_participant(study)
    trial = participant.trials.filter(role="main").first()
    other_item = next(s.pk for s in study.stimulus_set.stimuli.all() if s.pk not in trial.items)
    for description, body, status, code in invalid_cases(trial, study, other_item):
        response = post(api, participant, body)
        assert response.status_code == status, description
        error = response.json()["error"]
        assert error["code"] == code, description
        assert error["message"], description
    assert not Response.objects.exists()
    participant.refresh_from_db()
    assert participant.refused_responses == len(invalid_cases(trial, study, other_item))


def test_refused_answers_are_counted_on_their_session_only(api):
    study = make_study(trial_types=["triplet"])
    participant, other = start_participant(study), start_participant(study, "other")
    trial = participant.trials.filter(role="main").first()
    assert post(api, participant, {**answer_for(trial, study), "rt_ms": 0}).status_code == 422
    assert post(api, participant, answer_for(trial, study)).status_code == 201
    assert post(api, participant, answer_for(trial, study)).status_code == 200  # duplicate
    participant.refresh_from_db()
    other.refresh_from_db()
    assert (participant.refused_responses, other.refused_responses) == (1, 0)


def test_rating_out_of_scale_and_fractional_likert_are_refused(api):
    study = make_study(trial_types=["rating"], rating_scale="1-7")
    participant = start_participant(study)
    trial = participant.trials.filter(role="main").first()
    for rating in (0, 8, 3.5):
        response = post(api, participant, {"trial": trial.index, "rating": rating, "rt_ms": 900})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_rating"
    choice = post(api, participant, {"trial": trial.index, "choice": trial.items[0], "rt_ms": 900})
    assert choice.json()["error"]["code"] == "unexpected_choice"


def test_afc_reference_cannot_be_chosen(api):
    study = make_study(trial_types=["afc"], catch_rate=0.0)
    participant = start_participant(study)
    trial = participant.trials.filter(role="main").first()
    response = post(
        api, participant, {"trial": trial.index, "choice": trial.items[0], "rt_ms": 800}
    )
    assert response.status_code == 422


def test_wrong_or_unknown_session_is_404(api):
    study = make_study(trials_per_participant=3, practice_trials=0, repeat_rate=0, catch_rate=0)
    mine = start_participant(study)
    bigger_study = make_study(trials_per_participant=30)
    theirs = start_participant(bigger_study)
    late_trial = theirs.trials.order_by("-index").first()
    # A trial of another session cannot be answered through mine.
    response = post(api, mine, answer_for(late_trial, bigger_study))
    assert response.status_code == 404
    response = api.post("/api/p/not-a-session/responses", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_session"
    assert not Response.objects.exists()


def test_wrong_http_methods_are_4xx(api):
    participant = start_participant(make_study())
    assert api.get(reverse("api-responses", args=[participant.token])).status_code == 405
    assert api.post(reverse("api-plan", args=[participant.token])).status_code == 405


def test_client_description_is_recorded_and_capped(api):
    participant = start_participant(make_study())
    for width in range(12):
        body = {
            "userAgent": "Test/1.0",
            "viewport": {"width": 800 + width, "height": 600},
            "secret": "ignored",
        }
        assert post(api, participant, body, "api-client").status_code == 200
    participant.refresh_from_db()
    clients = participant.client_info["clients"]
    assert len(clients) == 10
    assert clients[-1] == {"userAgent": "Test/1.0", "viewport": {"width": 811, "height": 600}}


def test_csrf_is_enforced_on_the_api(client):
    strict = Client(enforce_csrf_checks=True)
    participant = start_participant(make_study())
    trial = participant.trials.first()
    body = json.dumps(answer_for(trial, participant.study))
    url = reverse("api-responses", args=[participant.token])
    assert strict.post(url, body, content_type="application/json").status_code == 403
    page = strict.get(reverse("participant-runner", args=[participant.token]))
    token = page.cookies["csrftoken"].value
    ok = strict.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 201
