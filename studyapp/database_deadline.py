"""A time limit on participant requests' database waits, for a frozen PostgreSQL.

A stopped (frozen) PostgreSQL whose host still accepts packets leaves a request on a kept
connection waiting until the server resumes: psycopg has no client-side limit per statement,
and TCP keepalives see a live host. ``DatabaseDeadlineMiddleware`` registers each participant
request's connection; a watchdog thread shuts the connection's socket down once the request
has run ``FACESIM_REQUEST_DATABASE_DEADLINE_S`` seconds, so psycopg's wait ends with an
OperationalError that the request answers as a 503 (``studyapp.views.errors``), the runner
sends the answer again later, and the next request opens a new connection. A request that
does not wait on the database when its time is up loses its connection the same way (its
transaction rolls back): participant requests take milliseconds, so the limit (10 s) is
generous. Researcher pages (exports, analyses) are not limited.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
PARTICIPANT_PATHS = ("/healthz", "/s/", "/p/", "/api/p/", "/media/stimuli/")


class _Watchdog:
    """Requests under way in this process and the thread that cuts the late ones off."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: dict[int, tuple[float, object, str]] = {}  # key -> (deadline, wrapper, path)
        self.thread_pid: int | None = None  # the process that started the thread (forks)

    def watch(self, key: int, wrapper, path: str, seconds: float) -> None:
        with self.lock:
            if self.thread_pid != os.getpid():
                self.thread_pid = os.getpid()
                threading.Thread(target=self._loop, name="facesim-db-deadline", daemon=True).start()
            self.running[key] = (time.monotonic() + seconds, wrapper, path)

    def done(self, key: int) -> None:
        with self.lock:
            self.running.pop(key, None)

    def _loop(self) -> None:
        while True:
            time.sleep(settings.FACESIM_REQUEST_DATABASE_CHECK_S)
            now = time.monotonic()
            with self.lock:  # a request that ends meanwhile waits here, not on a cut socket
                late = [key for key, (deadline, _, _) in self.running.items() if now > deadline]
                for key in late:
                    _, wrapper, path = self.running.pop(key)
                    _cut(wrapper, path)


def _cut(wrapper, path: str) -> None:
    """Shut the socket of the wrapper's open connection down (both ways)."""
    try:
        fd = wrapper.connection.pgconn.socket
    except (AttributeError, psycopg.Error):  # none open (None), or closed: nothing waits on it
        return
    with socket.socket(fileno=os.dup(fd)) as sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # already disconnected
    logger.warning(
        "%s ran past FACESIM_REQUEST_DATABASE_DEADLINE_S (%s s): its database connection was cut.",
        path,
        settings.FACESIM_REQUEST_DATABASE_DEADLINE_S,
    )


_watchdog = _Watchdog()


class DatabaseDeadlineMiddleware:
    """Cut a participant request's database connection once it runs past the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seconds = settings.FACESIM_REQUEST_DATABASE_DEADLINE_S
        if not seconds or not request.path.startswith(PARTICIPANT_PATHS):
            return self.get_response(request)
        key = id(request)
        _watchdog.watch(key, connections[DEFAULT_DB_ALIAS], request.path, seconds)
        try:
            return self.get_response(request)
        finally:
            _watchdog.done(key)
