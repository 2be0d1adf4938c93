"""Run marks: a worker's PostgreSQL advisory lock that says it is running a message.

The sweep reads them from ``pg_locks`` (``rows_marked``); a second run of the same row is told
that a live worker has it; the mark survives a dropped connection (a database restart ends every
session) and gives way when another worker took it meanwhile.
"""

import logging
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


def test_a_mark_gives_way_to_a_worker_that_took_it_meanwhile(caplog, settings):
    caplog.set_level(logging.INFO, logger="studyapp.services.run_marks")
    other_worker = connections.create_connection("default")
    try:
        with run_mark(BATCH_TASK, 12):
            settings.FACESIM_RUN_MARK_CHECK_S = 1.0  # time for the other worker to take it
            time.sleep(0.2)  # the mark's thread is in its first 1 s wait now
            with other_worker.cursor() as cursor:
                terminate(mark_session(BATCH_TASK, 12))
                wait_until(lambda: mark_session(BATCH_TASK, 12) is None, timeout=2)
                cursor.execute(
                    "SELECT pg_try_advisory_lock(%s::int4, %s::int4)",
                    [MARK_KEY_FOR_TASK[BATCH_TASK], 12],
                )
                assert cursor.fetchone()[0]
                other_pid = other_worker.connection.info.backend_pid
                wait_until(lambda: "another worker runs it now" in caplog.text)
                assert mark_session(BATCH_TASK, 12) == other_pid
    finally:
        other_worker.close()
    assert rows_marked() == set()


def test_a_mark_that_cannot_reach_the_database_raises_its_error(monkeypatch):
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")  # nothing listens there
    with pytest.raises(OperationalError), run_mark(BATCH_TASK, 13):
        pytest.fail("ran without a mark")
