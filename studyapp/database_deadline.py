"""Time limits on database waits, for a frozen PostgreSQL.

A stopped (frozen) PostgreSQL whose host still accepts packets leaves a process on a kept
connection waiting until the server resumes: psycopg has no client-side limit per statement,
and TCP keepalives see a live host. A watchdog thread per process shuts a watched connection's
socket down once its time is up, so psycopg's wait ends with an OperationalError: a request
answers 503 (``studyapp.views.errors``; a health check that fails reconnects instead), a Celery
task retries, and the next use opens a new connection. Two limits:

* every round trip to the server, in any process (web, workers, commands), is watched for
  ``FACESIM_DATABASE_WAIT_LIMIT_S`` (60 s): ``WatchedConnection``, the psycopg connection of
  the project's database backend (``config.postgresql``). No statement of the platform comes
  near it (lock waits included); a researcher page or a task that computes for minutes between
  its queries is not affected. ``manage.py migrate`` runs without it (``database_waits_unlimited``):
  building an index on a large table may take minutes.
* a participant request is watched as a whole for ``FACESIM_REQUEST_DATABASE_DEADLINE_S``
  (10 s; ``DatabaseDeadlineMiddleware``): participant requests take milliseconds, so a request
  still running then loses its connection even between queries (its transaction rolls back),
  and the runner sends the answer again later.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
PARTICIPANT_PATHS = ("/healthz", "/s/", "/p/", "/api/p/", "/media/stimuli/")
REQUEST_LIMIT = "FACESIM_REQUEST_DATABASE_DEADLINE_S"
WAIT_LIMIT = "FACESIM_DATABASE_WAIT_LIMIT_S"


class _Watchdog:
    """Requests under way in this process and the thread that cuts the late ones off."""

    def __init__(self):
        self.lock = threading.Lock()
        # key -> (deadline, the psycopg connection's getter, what is watched, the limit's name)
        self.running: dict[int, tuple[float, Callable[[], object], str, str]] = {}
        self.thread_pid: int | None = None  # the process that started the thread (forks)

    def watch(
        self, key: int, connection_of: Callable[[], object], what: str, limit: str, seconds: float
    ) -> None:
        with self.lock:
            if self.thread_pid != os.getpid():
                self.thread_pid = os.getpid()
                threading.Thread(target=self._loop, name="facesim-db-deadline", daemon=True).start()
            self.running[key] = (time.monotonic() + seconds, connection_of, what, limit)

    def done(self, key: int) -> None:
        with self.lock:
            self.running.pop(key, None)

    def _loop(self) -> None:
        while True:
            time.sleep(settings.FACESIM_REQUEST_DATABASE_CHECK_S)
            now = time.monotonic()
            with self.lock:  # a request that ends meanwhile waits here, not on a cut socket
                late = [key for key, (deadline, *_) in self.running.items() if now > deadline]
                for key in late:
                    _, connection_of, what, limit = self.running.pop(key)
                    _cut(connection_of(), what, limit)


def _cut(pg_connection, what: str, limit: str) -> None:
    """Shut the socket of an open psycopg connection down (both ways)."""
    try:
        fd = pg_connection.pgconn.socket
    except (AttributeError, psycopg.Error):  # none open (None), or closed: nothing waits on it
        return
    with socket.socket(fileno=os.dup(fd)) as sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # already disconnected
    logger.warning(
        "%s ran past %s (%s s): its database connection was cut.",
        what,
        limit,
        getattr(settings, limit),
    )


_watchdog = _Watchdog()
_unlimited = threading.Event()  # set inside database_waits_unlimited (the whole process)


@contextmanager
def database_waits_unlimited() -> Iterator[None]:
    """No round trip of this process is watched meanwhile (a command's long statements)."""
    _unlimited.set()
    try:
        yield
    finally:
        _unlimited.clear()


class WatchedConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server is watched for
    ``FACESIM_DATABASE_WAIT_LIMIT_S`` (every round trip of a query, fetch, commit or health
    check goes through ``wait``)."""

    def wait(self, *args, **kwargs):
        seconds = settings.FACESIM_DATABASE_WAIT_LIMIT_S
        if not seconds or _unlimited.is_set():
            return super().wait(*args, **kwargs)
        key = id(self)  # one wait at a time per connection
        _watchdog.watch(key, lambda: self, "A database round trip", WAIT_LIMIT, seconds)
        try:
            return super().wait(*args, **kwargs)
        finally:
            _watchdog.done(key)


class DatabaseDeadlineMiddleware:
    """Cut a participant request's database connection once it runs past the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seconds = settings.FACESIM_REQUEST_DATABASE_DEADLINE_S
        if not seconds or not request.path.startswith(PARTICIPANT_PATHS):
            return self.get_response(request)
        key = id(request)
        wrapper = connections[DEFAULT_DB_ALIAS]
        _watchdog.watch(key, lambda: wrapper.connection, request.path, REQUEST_LIMIT, seconds)
        try:
            return self.get_response(request)
        finally:
            _watchdog.done(key)
