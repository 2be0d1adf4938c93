"""Run marks: a worker's PostgreSQL advisory lock that says it is running a message.

The sweep reads them from ``pg_locks`` (``rows_marked``); a second run of the same row is told
that a live worker has it; the mark survives a dropped connection (a database restart ends every
session) and gives way when another worker took it meanwhile.
"""

import logging
import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from studyapp.services.dispatch import BATCH_TASK, FINALIZE_TASK, MARK_KEY_FOR_TASK, rows_marked
from studyapp.services.run_marks import run_mark

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_checks(settings):
    settings.FACESIM_RUN_MARK_CHECK_S = 0.05


def mark_session(task_name: str, pk: int) -> int | None:
    """The PostgreSQL backend that holds the row's mark, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s",
            [MARK_KEY_FOR_TASK[task_name], pk],
        )
        row = cursor.fetchone()
    return row and row[0]


def terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_until(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"not true after {timeout} s: {condition}")


def test_a_mark_is_seen_by_the_sweep_while_held_and_only_then():
    assert rows_marked() == set()
    with run_mark(BATCH_TASK, 7) as ours:
        assert ours
        assert rows_marked() == {(BATCH_TASK, 7)}
        with run_mark(FINALIZE_TASK, 7) as other_task:  # another task of id 7: its own mark
            assert other_task
            assert rows_marked() == {(BATCH_TASK, 7), (FINALIZE_TASK, 7)}
        with run_mark(BATCH_TASK, 7) as second_copy:  # the same message on a second worker
            assert not second_copy
        assert mark_session(BATCH_TASK, 7) != connection.cursor().connection.info.backend_pid
    assert rows_marked() == set()


def test_a_mark_is_taken_again_after_its_connection_dropped(caplog):
    caplog.set_level(logging.INFO, logger="studyapp.services.run_marks")
    with run_mark(BATCH_TASK, 11):
        first = mark_session(BATCH_TASK, 11)
        terminate(first)  # what a database restart does to every session

        def new_holder() -> int | None:
            holder = mark_session(BATCH_TASK, 11)
            return holder if holder != first else None

        wait_until(new_holder)
        assert rows_marked() == {(BATCH_TASK, 11)}
    assert "held again after a reconnect" in caplog.text
    assert rows_marked() == set()


def test_a_mark_is_taken_again_when_the_database_is_back_after_a_while(database_outage):
    with run_mark(BATCH_TASK, 14):
        database_outage.away()  # several checks find no database
        time.sleep(0.5)
        assert rows_marked() == set()
        database_outage.back()
        wait_until(lambda: rows_marked() == {(BATCH_TASK, 14)})
    assert rows_marked() == set()


class OtherWorker(threading.Thread):
    """Waits for the row's lock in a session of its own (queued behind the mark's session, so
    PostgreSQL grants it the moment that session ends) and holds it until ``done``."""

    def __init__(self, key: tuple[int, int]):
        super().__init__(daemon=True)
        self.key = key
        self.pid: int | None = None
        self.done = threading.Event()

    def run(self) -> None:
        session = connections.create_connection("default")
        try:
            with session.cursor() as cursor:
                self.pid = session.connection.info.backend_pid
                cursor.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", self.key)
            self.done.wait()
        finally:
            session.close()


def waiting_for_lock(pid: int | None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT NOT granted FROM pg_locks WHERE pid = %s", [pid])
        return any(row[0] for row in cursor.fetchall())


def test_a_mark_gives_way_to_a_worker_that_took_it_meanwhile(caplog):
    caplog.set_level(logging.INFO, logger="studyapp.services.run_marks")
    other = OtherWorker((MARK_KEY_FOR_TASK[BATCH_TASK], 12))
    try:
        with run_mark(BATCH_TASK, 12):
            other.start()
            wait_until(lambda: waiting_for_lock(other.pid))
            terminate(mark_session(BATCH_TASK, 12))  # the lock goes to the waiting session
            wait_until(lambda: "another worker runs it now" in caplog.text)
            assert mark_session(BATCH_TASK, 12) == other.pid
    finally:
        other.done.set()
        other.join()
    assert rows_marked() == set()


def test_a_mark_that_cannot_reach_the_database_raises_its_error(monkeypatch):
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")  # nothing listens there
    with pytest.raises(OperationalError), run_mark(BATCH_TASK, 13):
        pytest.fail("ran without a mark")


def test_a_mark_is_let_go_at_the_hard_time_limit(settings, caplog):
    """The solo and threads pools do not kill a task at the hard limit: its mark goes instead."""
    settings.CELERY_TASK_TIME_LIMIT = 0.5
    with run_mark(BATCH_TASK, 13) as ours:
        assert ours
        assert rows_marked() == {(BATCH_TASK, 13)}
        wait_until(lambda: rows_marked() == set(), timeout=5.0)
        with run_mark(BATCH_TASK, 13) as sent_again:  # the sweep's copy may now run
            assert sent_again
    assert "runs past the hard time limit (0.5 s)" in caplog.text
    assert rows_marked() == set()
