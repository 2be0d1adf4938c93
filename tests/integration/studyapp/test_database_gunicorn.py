"""A database restart or a frozen database under gunicorn, whose workers keep their
connections (``CONN_MAX_AGE``): with ``CONN_HEALTH_CHECKS`` the next request after a restart
reconnects instead of answering 503; a participant request whose kept connection's server is
frozen is cut off after ``FACESIM_REQUEST_DATABASE_DEADLINE_S``, and a researcher page's
round trip after ``FACESIM_DATABASE_WAIT_LIMIT_S``, instead of waiting for the server."""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from tests.private_servers import free_port
from tests.worker import ROOT, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(url: str, timeout: float = 30, cookie: str = "") -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def other_sessions() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def status_while_frozen(url: str, cookie: str = "") -> tuple[int | str, float]:
    """GET ``url`` (8 s at most) while the server's one kept session is stopped (SIGSTOP):
    the status (or "no answer") and the seconds it took."""
    (frozen,) = other_sessions()
    os.kill(frozen, signal.SIGSTOP)
    try:
        started = time.monotonic()
        try:
            got = status_of(url, timeout=8, cookie=cookie)
        except (TimeoutError, urllib.error.URLError):
            got = "no answer"
        return got, time.monotonic() - started
    finally:
        os.kill(frozen, signal.SIGCONT)


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn (one sync worker: every request on the same kept connection)."""
    servers = []

    def start(**environment: str) -> str:
        port = free_port()
        command = [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--workers", "1"]
        server = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=ROOT,
            env=worker_environment(tmp_path / "media", DJANGO_DEBUG="0", **environment),
        )
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                return base
            except OSError:
                time.sleep(0.2)
        pytest.fail("gunicorn did not start")

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(("checks", "after_restart"), [("1", 200), ("0", 503)])
def test_the_first_request_after_a_database_restart(gunicorn, checks, after_restart):
    """Without the checks (the control) the kept, dead connection fails that request."""
    base = gunicorn(DATABASE_CONN_HEALTH_CHECKS=checks)
    assert status_of(f"{base}/healthz") == 200
    kept = other_sessions()
    assert len(kept) == 1  # the worker's connection, kept between requests
    with connection.cursor() as cursor:  # what a restart does to every session
        cursor.execute("SELECT pg_terminate_backend(%s)", kept)
    assert status_of(f"{base}/healthz") == after_restart
    assert status_of(f"{base}/healthz") == 200


@pytest.mark.parametrize(
    ("checks", "deadline", "answer"),
    [("1", "2", 200), ("0", "2", 503), ("1", "0", "no answer")],
    ids=["health-check-cut-then-reconnect", "query-cut", "control-no-deadline"],
)
def test_a_frozen_database_session_does_not_hold_a_request(gunicorn, checks, deadline, answer):
    """The worker's kept session is stopped (SIGSTOP): its host still takes the packets. Cut
    off, the health check fails and the request reconnects (200); a cut query answers 503; with
    no deadline (the control) the request waits for the server."""
    base = gunicorn(
        DATABASE_CONN_HEALTH_CHECKS=checks,
        FACESIM_REQUEST_DATABASE_DEADLINE_S=deadline,
        FACESIM_REQUEST_DATABASE_CHECK_S="0.2",
    )
    assert status_of(f"{base}/healthz") == 200
    got, waited = status_while_frozen(f"{base}/healthz")
    assert got == answer
    assert waited < 5 if deadline != "0" else waited >= 8
    assert status_of(f"{base}/healthz") == 200  # a new session, or the thawed one


@pytest.mark.parametrize(
    ("checks", "limit", "answer"),
    [("1", "2", 200), ("0", "2", 503), ("1", "0", "no answer")],
    ids=["health-check-cut-then-reconnect", "query-cut", "control-no-limit"],
)
def test_a_frozen_database_session_does_not_hold_a_researcher_page(
    gunicorn, client, django_user_model, checks, limit, answer
):
    """Researcher pages have no request deadline (exports and imports may run long); the
    limit on each round trip bounds them all the same. Same stages as above."""
    base = gunicorn(
        DATABASE_CONN_HEALTH_CHECKS=checks,
        FACESIM_DATABASE_WAIT_LIMIT_S=limit,
        FACESIM_REQUEST_DATABASE_CHECK_S="0.2",
    )
    client.force_login(django_user_model.objects.create_user("r", is_staff=True))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    assert status_of(f"{base}/research/", cookie=cookie) == 200
    got, waited = status_while_frozen(f"{base}/research/", cookie=cookie)
    assert got == answer
    assert waited < 5 if limit != "0" else waited >= 8
    assert status_of(f"{base}/research/", cookie=cookie) == 200
