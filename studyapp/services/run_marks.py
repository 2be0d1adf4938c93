"""Marks that a live worker is running a job's plan, batch or finalize message.

While a worker runs a message it holds a PostgreSQL advisory lock on a connection of its own
(``run_mark``). PostgreSQL drops the lock with the connection: when the worker process is killed,
when its host is gone (server-side TCP keepalives, about 25 s) and when the task ends, also when
it ends with an error that Celery retries later. So the requeue sweep can tell a row "taken" by
a live worker from one whose worker died or whose retry the broker lost
(``dispatch.rows_marked``).

A thread keeps the connection alive (``FACESIM_RUN_MARK_CHECK_S``) and takes the lock again
after a database restart. If another worker took it in between (the sweep sent the message
again), both runs finish and the batch's result is stored once (``batch_complete``).

A mark is held for at most the hard time limit (``CELERY_TASK_TIME_LIMIT``). The prefork pool
kills a task at that limit, which drops the mark anyway; the ``solo`` and ``threads`` pools do
not enforce it, so a task hung there lets its mark go and the sweep sends the message again.
"""

import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from studyapp.services.dispatch import MARK_KEY_FOR_TASK

logger = logging.getLogger(__name__)
# The server notices a vanished worker host after 10 s idle + 3 unanswered probes 5 s apart
# (ignored, and not needed, on a Unix socket).
KEEPALIVES = (
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)


class RunMark(threading.Thread):
    """Holds the lock on its own connection until ``stopped`` is set."""

    def __init__(self, task_name: str, pk: int):
        super().__init__(name=f"facesim-run-mark-{task_name}-{pk}", daemon=True)
        self.task_name, self.pk = task_name, pk
        self.key = (MARK_KEY_FOR_TASK[task_name], pk)
        self.first_try = threading.Event()
        self.stopped = threading.Event()
        self.held = False  # this run keeps (or is taking back) the mark
        self.locked = False  # the current session holds the lock
        self.error: DatabaseError | None = None

    def run(self) -> None:
        marks = connections.create_connection(DEFAULT_DB_ALIAS)  # never the task's connection
        deadline = time.monotonic() + settings.CELERY_TASK_TIME_LIMIT
        try:
            try:
                self.held = self._lock(marks)
            except DatabaseError as error:
                self.error = error
            self.first_try.set()
            while self.held and not self.stopped.wait(settings.FACESIM_RUN_MARK_CHECK_S):
                if time.monotonic() > deadline:
                    self._let_go()
                    break
                self.held = self._keep(marks)
        finally:
            self.first_try.set()
            self._release(marks)

    def _release(self, marks) -> None:
        """Unlock at once (a closed session's locks go only when its backend has exited)."""
        try:
            if self.locked:
                with marks.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", self.key)
        except DatabaseError:
            pass  # the session is gone, and its locks with it
        finally:
            marks.close()

    def _let_go(self) -> None:
        self.held = False
        logger.warning(
            "%s(%s) runs past the hard time limit (%s s) in a pool that does not stop it; its run "
            "mark is let go, so the sweep sends the message again.",
            self.task_name,
            self.pk,
            settings.CELERY_TASK_TIME_LIMIT,
        )

    def _lock(self, marks) -> bool:
        """Take the lock in a (new) session; False when another session holds it."""
        with marks.cursor() as cursor:
            cursor.execute(KEEPALIVES)
            cursor.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", self.key)
            self.locked = cursor.fetchone()[0]
        return self.locked

    def _keep(self, marks) -> bool:
        """False once another worker holds the mark; True while held or while the database is
        away (the lock is taken again, in a new session, when it is back)."""
        if self.locked:
            try:
                with marks.cursor() as cursor:
                    cursor.execute("SELECT 1")
                return True
            except DatabaseError:
                self.locked = False  # the session ended, and the lock with it
                marks.close()
        try:
            if self._lock(marks):
                logger.info(
                    "Run mark of %s(%s) held again after a reconnect.", self.task_name, self.pk
                )
                return True
        except DatabaseError:
            marks.close()
            return True
        logger.warning(
            "%s(%s): another worker runs it now (the database was away and the message was "
            "sent again); this run goes on and its result is stored once.",
            self.task_name,
            self.pk,
        )
        return False


@contextmanager
def run_mark(task_name: str, pk: int):
    """Inside: True when this worker now marks the row as running, False when a live worker
    already does (skip the message). Raises the database's error if it cannot be reached."""
    mark = RunMark(task_name, pk)
    mark.start()
    mark.first_try.wait()
    try:
        if mark.error is not None:
            raise mark.error
        yield mark.held
    finally:
        mark.stopped.set()
        mark.join()
