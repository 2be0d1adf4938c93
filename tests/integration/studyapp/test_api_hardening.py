"""Hostile participant requests get a 4xx JSON error and store nothing (issue 10: 4, 5, 8)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp.models import Participant, Response
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    study = make_study(trial_types=["triplet", "rating"])
    participant = start_participant(study)
    trial = participant.trials.order_by("index").first()
    return study, participant, answer_for(trial, study)


def post_raw(participant, raw: str, name: str = "api-responses", client: Client | None = None):
    return (client or Client()).post(
        reverse(name, args=[participant.token]), raw, content_type="application/json"
    )


def assert_rejected(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    return error


HOSTILE_RESPONSE_BODIES = {
    "5000-digit trial": lambda ok: json.dumps(ok)[:-1] + ', "trial": ' + "9" * 5000 + "}",
    "5000-digit rt_ms": lambda ok: json.dumps({**ok, "rt_ms": 0}).replace(
        '"rt_ms": 0', '"rt_ms": ' + "1" * 5000
    ),
    "400-digit rt_ms": lambda ok: json.dumps({**ok, "rt_ms": 0}).replace(
        '"rt_ms": 0', '"rt_ms": 1' + "0" * 400
    ),
    "rt_ms 1e400": lambda ok: json.dumps({**ok, "rt_ms": 0}).replace(
        '"rt_ms": 0', '"rt_ms": 1e400'
    ),
    "rating 1e400": lambda ok: json.dumps({**ok, "rating": 0}).replace(
        '"rating": 0', '"rating": -1e400'
    ),
    "deeply nested viewport": lambda ok: (
        json.dumps(ok)[:-1] + ', "viewport": ' + "[" * 5000 + "]" * 5000 + "}"
    ),
    "NaN rt_ms": lambda ok: json.dumps({**ok, "rt_ms": float("nan")}),
    "NUL in a field name": lambda ok: json.dumps({**ok, "x\u0000": 1}),
    "lone surrogate in a field name": lambda ok: json.dumps({**ok, "\ud800": 1}),
}


@pytest.mark.parametrize(
    "make_body", HOSTILE_RESPONSE_BODIES.values(), ids=list(HOSTILE_RESPONSE_BODIES)
)
def test_hostile_numbers_and_nesting_are_400_and_store_nothing(session, make_body):
    _, participant, ok = session
    assert_rejected(post_raw(participant, make_body(ok)))
    assert not Response.objects.exists()
    assert post_raw(participant, json.dumps(ok)).status_code == 201


@pytest.mark.parametrize("declared", ["9" * 5000, "99999999999999999999"])
@pytest.mark.parametrize("name", ["api-client", "api-responses"])
def test_an_absurd_declared_content_length_is_413(session, name, declared):
    _, participant, ok = session
    response = Client().post(
        reverse(name, args=[participant.token]),
        json.dumps(ok),
        content_type="application/json",
        CONTENT_LENGTH=declared,
    )
    assert assert_rejected(response, 413)["code"] == "too_large"
    assert not Response.objects.exists()


CLIENT_STRINGS = {
    "NUL": '"Mozilla\\u0000"',
    "lone surrogate": '"\\udc00abc"',
    "5000-digit integer": "9" * 5000,
    "deep nesting": "[" * 5000 + "]" * 5000,
}


@pytest.mark.parametrize("value", CLIENT_STRINGS.values(), ids=list(CLIENT_STRINGS))
@pytest.mark.parametrize("name", ["api-client", "api-responses"])
def test_unstorable_client_strings_are_400_and_store_nothing(session, name, value):
    _, participant, _ = session
    response = post_raw(participant, '{"userAgent": ' + value + ', "language": "en"}', name)
    assert_rejected(response)
    participant.refresh_from_db()
    assert participant.client_info == {}
    assert participant.status == Participant.Status.STARTED


def test_nested_client_fields_are_refused_and_scalars_kept(session):
    _, participant, _ = session
    error = assert_rejected(
        post_raw(participant, json.dumps({"userAgent": [[["x"]]]}), "api-client")
    )
    assert error["field"] == "userAgent"
    ok = post_raw(participant, json.dumps({"userAgent": "UA", "touch": True}), "api-client")
    assert ok.status_code == 200
    participant.refresh_from_db()
    assert participant.client_info["clients"] == [{"userAgent": "UA", "touch": "True"}]


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+00:00",
    ],
)
def test_responded_at_far_from_the_server_clock_is_refused(session, when):
    _, participant, ok = session
    error = assert_rejected(post_raw(participant, json.dumps({**ok, "responded_at": when})), 422)
    assert (error["code"], error["field"]) == ("implausible_time", "responded_at")
    assert not Response.objects.exists()


def test_responded_at_window_is_a_setting(session, settings):
    _, participant, ok = session
    settings.PARTICIPANT_CLOCK_WINDOW_HOURS = 1
    late = (timezone.now() - timedelta(hours=2)).isoformat()
    assert_rejected(post_raw(participant, json.dumps({**ok, "responded_at": late})), 422)
    recent = (timezone.now() - timedelta(minutes=50)).isoformat()
    assert post_raw(participant, json.dumps({**ok, "responded_at": recent})).status_code == 201
    assert Response.objects.get().responded_at.isoformat() == recent


@pytest.mark.parametrize("name", ["api-responses", "api-client", "api-complete"])
def test_csrf_failure_on_the_api_is_the_json_error_body(session, name):
    _, participant, ok = session
    response = post_raw(participant, json.dumps(ok), name, Client(enforce_csrf_checks=True))
    error = assert_rejected(response, 403)
    assert error["code"] == "csrf_failed"
    assert not Response.objects.exists()


def test_csrf_failure_elsewhere_is_still_the_html_page(session):
    study, _, _ = session
    response = Client(enforce_csrf_checks=True).post(
        reverse("study-consent", args=[study.slug]), {"decision": "agree"}
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert Participant.objects.count() == 1


@pytest.mark.parametrize("token", ["%00", "abc%00def", "%ED%A0%80", "a" * 65, "x%20y"])
@pytest.mark.parametrize("suffix", ["plan", "responses", "client", "complete"])
def test_malformed_tokens_in_api_urls_are_json_404s(token, suffix):
    client = Client()
    url = f"/api/p/{token}/{suffix}"
    response = client.get(url) if suffix == "plan" else client.post(url, "{}", "application/json")
    assert_rejected(response, 404)


@pytest.mark.parametrize(
    ("name", "method", "allowed"),
    [
        ("api-plan", "post", "GET"),
        ("api-plan", "delete", "GET"),
        ("api-responses", "get", "POST"),
        ("api-client", "put", "POST"),
        ("api-complete", "get", "POST"),
    ],
)
def test_wrong_methods_on_the_api_are_json_405s(session, name, method, allowed):
    _, participant, _ = session
    response = getattr(Client(), method)(reverse(name, args=[participant.token]))
    assert assert_rejected(response, 405)["code"] == "method_not_allowed"
    assert response["Allow"] == allowed


@pytest.mark.parametrize("token", ["%00", "%ED%A0%80", "a" * 65])
def test_malformed_tokens_in_runner_urls_are_404_pages(token):
    response = Client().get(f"/p/{token}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("cookie", ['"\\000"', '"a\\000b"', "x" * 100])
def test_a_forged_session_cookie_is_ignored_on_the_start_link(session, cookie):
    study, _, _ = session
    client = Client()
    response = client.get(
        reverse("study-start", args=[study.slug]),
        HTTP_COOKIE=f"facesim_{study.pk}={cookie}",
    )
    assert response.status_code == 200
    assert b"consent" in response.content.lower()


@pytest.mark.parametrize(
    "params",
    [
        {"PROLIFIC_PID": "a\x00b"},
        {"participant": "\x00"},
        {"STUDY_ID": "9" * 5000},
    ],
)
def test_start_and_consent_refuse_unstorable_ids(session, params):
    study, _, _ = session
    before = Participant.objects.count()
    start = Client().get(reverse("study-start", args=[study.slug]), params)
    assert start.status_code == 400
    consent = Client().post(
        reverse("study-consent", args=[study.slug]), {**params, "decision": "agree"}
    )
    assert consent.status_code == 400
    assert Participant.objects.count() == before
