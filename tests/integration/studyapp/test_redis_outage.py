"""Participants keep working when the rate-limit Redis is down or frozen (issue 10, point 11).

A private redis-server (a free port) is started, then killed or stopped with SIGSTOP: no mocks.
"""

import json
import time

import pytest
import redis
from django.test import Client
from django.urls import reverse

from studyapp import ratelimit
from studyapp.models import Participant, Response
from tests.factories import answer_for, make_study
from tests.private_servers import PrivateRedis

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_redis(settings):
    """A redis-server of this test only; the rate limiter points at it."""
    server = PrivateRedis()
    server.start()
    settings.FACESIM_REDIS_URL = server.url()
    settings.FACESIM_RATE_START_PER_MINUTE = 2
    ratelimit._counter.cache_clear()
    yield server
    server.kill()
    ratelimit._counter.cache_clear()


def run_a_session(study) -> tuple[list[int], list[float]]:
    """Start link, consent, plan, client, every response and completion: statuses, seconds."""
    client = Client()
    statuses, seconds = [], []

    def timed(call, *args, **kwargs):
        began = time.monotonic()
        response = call(*args, **kwargs)
        seconds.append(time.monotonic() - began)
        statuses.append(response.status_code)
        return response

    timed(client.get, reverse("study-start", args=[study.slug]), {"PROLIFIC_PID": "p1"})
    consent = timed(
        client.post,
        reverse("study-consent", args=[study.slug]),
        {"PROLIFIC_PID": "p1", "decision": "agree"},
    )
    token = consent.url.rstrip("/").rsplit("/", 1)[-1]
    plan = timed(client.get, reverse("api-plan", args=[token])).json()
    timed(
        client.post,
        reverse("api-client", args=[token]),
        json.dumps({"userAgent": "UA"}),
        content_type="application/json",
    )
    for trial in plan["trials"]:
        timed(
            client.post,
            reverse("api-responses", args=[token]),
            json.dumps(answer_for(trial, study)),
            content_type="application/json",
        )
    timed(client.post, reverse("api-complete", args=[token]), "{}", "application/json")
    return statuses, seconds


def assert_session_stored(study, statuses) -> None:
    participant = Participant.objects.get(study=study)
    n_trials = participant.trials.count()
    assert statuses == [200, 302, 200, 200] + [201] * n_trials + [200]
    assert Response.objects.filter(trial__participant=participant).count() == n_trials
    assert participant.status == Participant.Status.COMPLETED


def test_rate_limits_work_while_the_private_redis_is_up(private_redis):
    study = make_study()
    start = reverse("study-start", args=[study.slug])
    assert [Client().get(start).status_code for _ in range(3)] == [200, 200, 429]
    assert redis.Redis(port=private_redis.port).keys("facesim:ratelimit:start:*")


def unavailable_warnings(caplog) -> list:
    return [r for r in caplog.records if "Redis unavailable" in r.getMessage()]


def test_participants_keep_working_when_redis_is_down(private_redis, caplog):
    private_redis.kill()
    study = make_study(trials_per_participant=6)
    statuses, seconds = run_a_session(study)
    assert_session_stored(study, statuses)
    assert max(seconds) < 2
    # one warning, then rate limits rest for FACESIM_REDIS_RETRY_SECONDS (5 s)
    assert [r.levelname for r in unavailable_warnings(caplog)] == ["WARNING"]


def test_participants_keep_working_when_redis_is_frozen(private_redis, caplog, settings):
    settings.FACESIM_RATE_START_PER_MINUTE = 1000
    ratelimit.over_limit("warmup", "k", 10)  # an open, pooled connection to the live server
    private_redis.freeze()
    study = make_study(trials_per_participant=6)
    statuses, seconds = run_a_session(study)
    assert_session_stored(study, statuses)
    # only the first request waits for the 0.25 s socket timeout; the rest skip Redis
    waited = [s for s in seconds if s >= 0.2]
    assert len(waited) == 1, seconds
    assert waited[0] < 1.0
    assert sum(seconds) < 0.25 + len(seconds) * 0.1, seconds
    assert len(unavailable_warnings(caplog)) == 1


def test_rate_limits_come_back_with_redis(private_redis, settings):
    settings.FACESIM_REDIS_RETRY_SECONDS = 0.5
    study = make_study()
    start = reverse("study-start", args=[study.slug])
    assert Client().get(start).status_code == 200  # counted: 1 of 2
    private_redis.freeze()
    assert [Client().get(start).status_code for _ in range(4)] == [200] * 4  # not counted
    private_redis.thaw()
    time.sleep(0.6)
    # limits apply again: 2 per minute (the INCR that timed out may count when Redis wakes)
    after = [Client().get(start).status_code for _ in range(3)]
    assert after in ([200, 429, 429], [429, 429, 429])


def test_participants_keep_working_when_nothing_listens_on_the_redis_port(settings):
    settings.FACESIM_REDIS_URL = "redis://127.0.0.1:6393/0"
    ratelimit._counter.cache_clear()
    try:
        study = make_study(trials_per_participant=6)
        statuses, _ = run_a_session(study)
        assert_session_stored(study, statuses)
    finally:
        ratelimit._counter.cache_clear()
