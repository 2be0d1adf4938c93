"""Participant endpoints are rate limited: 429 with Retry-After, nothing processed."""

import json

import pytest
from django.urls import reverse

from studyapp.models import Participant, Response
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


def test_api_calls_per_session_are_limited(client, settings):
    settings.FACESIM_RATE_API_PER_MINUTE = 5
    study = make_study()
    mine, other = start_participant(study), start_participant(study)
    trials = list(mine.trials.order_by("index"))
    statuses = []
    for trial in trials[:7]:
        response = client.post(
            reverse("api-responses", args=[mine.token]),
            json.dumps(answer_for(trial, study)),
            content_type="application/json",
        )
        statuses.append(response.status_code)
    assert statuses == [201] * 5 + [429, 429]
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Response.objects.filter(trial__participant=mine).count() == 5
    other_trial = other.trials.order_by("index").first()
    ok = client.post(
        reverse("api-responses", args=[other.token]),
        json.dumps(answer_for(other_trial, study)),
        content_type="application/json",
    )
    assert ok.status_code == 201  # another session has its own budget


def test_start_and_consent_are_limited_per_address(client, settings):
    settings.FACESIM_RATE_START_PER_MINUTE = 3
    study = make_study()
    for i in range(3):
        assert (
            client.get(
                reverse("study-start", args=[study.slug]), {"PROLIFIC_PID": f"p{i}"}
            ).status_code
            == 200
        )
    busy = client.post(
        reverse("study-consent", args=[study.slug]), {"decision": "agree", "PROLIFIC_PID": "p9"}
    )
    assert busy.status_code == 429
    assert "wait a minute" in busy.content.decode()
    assert not Participant.objects.exists()
