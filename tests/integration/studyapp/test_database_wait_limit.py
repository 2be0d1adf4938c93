"""Every connection of the project's backend (web, Celery workers, commands) gives up on a
round trip to a frozen server after ``FACESIM_DATABASE_WAIT_LIMIT_S``."""

import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_connection():
    """A second connection of the backend, and its server process's id."""
    wrapper = connections.create_connection("default")
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    yield wrapper, pid
    wrapper.close()


def run_query(wrapper) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class")
        cursor.fetchone()


def test_a_round_trip_to_a_frozen_server_fails_after_the_limit(own_connection, settings):
    settings.FACESIM_DATABASE_WAIT_LIMIT_S = 1
    settings.FACESIM_REQUEST_DATABASE_CHECK_S = 0.2
    wrapper, pid = own_connection
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            run_query(wrapper)
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 1 <= waited < 4
    wrapper.close()  # what Django does with an unusable connection at the end of a request
    run_query(wrapper)  # a new connection


def test_without_a_limit_the_round_trip_waits_for_the_server(own_connection, settings):
    """The control: the same query waits while the server is stopped and ends once it resumes."""
    settings.FACESIM_DATABASE_WAIT_LIMIT_S = 0
    settings.FACESIM_REQUEST_DATABASE_CHECK_S = 0.2
    wrapper, pid = own_connection
    wrapper.inc_thread_sharing()  # used from the thread below only
    os.kill(pid, signal.SIGSTOP)
    outcome = []
    query = threading.Thread(target=lambda: outcome.append(run_query(wrapper)))
    try:
        query.start()
        query.join(timeout=3)
        assert query.is_alive()
    finally:
        os.kill(pid, signal.SIGCONT)
    query.join(timeout=10)
    assert outcome == [None]
    wrapper.dec_thread_sharing()


def test_migrate_waits_without_the_limit(settings, monkeypatch):
    """A statement of ``migrate`` may wait for minutes (an index on a large table): the
    command runs without the limit, and the limit is back afterwards."""
    from studyapp import database_deadline

    settings.FACESIM_DATABASE_WAIT_LIMIT_S = 1
    seen = []
    original = database_deadline._Watchdog.watch

    def watch(self, *args, **kwargs):
        seen.append(args[2])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(database_deadline._Watchdog, "watch", watch)
    call_command("migrate", verbosity=0)
    assert seen == []
    run_query(connections["default"])  # watched again
    assert set(seen) == {"A database round trip"}
