"""A live server whose database goes away: 503 with Retry-After (JSON under /api/), never a
500, nothing stored twice or lost once it is back (the outage: ``tests.conftest``'s
``database_outage``, real sessions ended and connections refused)."""

import errno
import json
import urllib.error
import urllib.request

import psycopg
import pytest
from django.db import Error, OperationalError

from studyapp.bots import ParticipantBot
from studyapp.models import Response
from tests.factories import answer_for, make_study

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_requests_answer_503_while_the_database_is_away_and_no_answer_is_lost(
    live_server, database_outage
):
    study = make_study(trial_types=["triplet"], trials_per_participant=4, practice_trials=0)
    bot = ParticipantBot(live_server.url, study.slug, "outage-1")
    token = bot.join()
    plan = bot.get_json(f"/api/p/{token}/plan")
    first = plan["trials"][0]
    body = answer_for(first, study)
    responses = f"/api/p/{token}/responses"
    assert bot.post_json(responses, body)[0] == 201

    database_outage.away()
    second = answer_for(plan["trials"][1], study)
    for attempt in range(3):  # the dropped session, then refused connections
        status, error, _ = bot.post_json(responses, second)
        assert status == 503, (attempt, error)
        assert error["error"]["code"] == "database_unavailable"
        assert "sent again" in error["error"]["message"]
    status, headers, page = fetch(f"{live_server.url}/api/p/{token}/plan")
    assert (status, headers["Retry-After"], json.loads(page)["error"]["code"]) == (
        503,
        "5",
        "database_unavailable",
    )
    status, headers, page = fetch(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=late")
    assert (status, headers["Retry-After"]) == (503, "5")
    assert b"cannot reach its database" in page
    status, _, health = fetch(f"{live_server.url}/healthz")
    assert (status, json.loads(health)) == (503, {"ok": False, "database": "unreachable"})

    database_outage.back()
    assert bot.post_json(responses, second)[0] == 201  # the browser's outbox sends it again
    assert bot.post_json(responses, second)[0] == 200  # a late duplicate: stored once
    assert bot.post_json(responses, body)[0] == 200
    stored = Response.objects.filter(trial__participant__token=token)
    assert sorted(stored.values_list("trial__index", flat=True)) == [0, 1]
    assert fetch(f"{live_server.url}/healthz")[:1] == (200,)


def raising(cause: Exception):
    """A function that raises ``cause``; a driver error as the ORM does (in Django's class)."""

    def fail(*args, **kwargs):
        if not isinstance(cause, psycopg.Error):
            raise cause
        wrapper = OperationalError if isinstance(cause, psycopg.OperationalError) else Error
        raise wrapper(str(cause)) from cause

    return fail


@pytest.mark.parametrize(
    ("cause", "status", "code"),
    [
        (RuntimeError("a bug"), 500, "server_error"),
        (psycopg.errors.ProgramLimitExceeded("index row too large"), 500, "server_error"),
        (psycopg.errors.DataError("bad value"), 500, "server_error"),
        (psycopg.errors.AdminShutdown("terminating connection"), 503, "database_unavailable"),
        (psycopg.errors.DeadlockDetected("deadlock detected"), 503, "database_unavailable"),
        (psycopg.errors.TooManyConnections("too many clients"), 503, "database_unavailable"),
        (psycopg.OperationalError("connection refused"), 503, "database_unavailable"),
        (OSError(errno.ENOSPC, "No space left on device"), 507, "storage_full"),
        (OSError(errno.EACCES, "Permission denied"), 500, "server_error"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_uncaught_errors_in_the_api_answer_json(live_server, monkeypatch, cause, status, code):
    """Errors that pass (the database away, busy or deadlocked) are 503s to retry; a full disk
    is a 507; a bad statement or any other bug stays a 500, with the API's JSON error body."""
    study = make_study(trial_types=["triplet"])
    token = ParticipantBot(live_server.url, study.slug, "broken-1").join()
    monkeypatch.setattr("studyapp.views.participant_api.participant_plan", raising(cause))
    answer, headers, body = fetch(f"{live_server.url}/api/p/{token}/plan")
    assert (answer, json.loads(body)["error"]["code"]) == (status, code)
    assert ("Retry-After" in headers) == (status == 503)
