"""Error pages: the participant JSON API (``/api/``) answers its JSON error body instead."""

import errno
import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import csrf, defaults

from studyapp.errors import (
    Forbidden,
    InsufficientStorage,
    NotFound,
    ServerError,
    Unavailable,
    is_api_request,
    rejection_response,
)

logger = logging.getLogger(__name__)
DATABASE_AWAY = (OperationalError, InterfaceError)
# SQLSTATE classes of errors that pass: connection exception, transaction rollback (deadlock,
# serialization), insufficient resources (too many connections), operator intervention
# (shutdown, restart, starting up). Others, such as a value too large for an index, are bugs.
PASSING_SQLSTATE_CLASSES = ("08", "40", "53", "57")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left on the device; over the disk quota


def database_away(error: BaseException | None) -> bool:
    """Whether the error says the database is unreachable for now (down, restarting, a dropped
    connection: Django opens a new one for the next request), not that the request is bad."""
    if not isinstance(error, DATABASE_AWAY):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)  # None: no answer from the server
    return sqlstate is None or sqlstate[:2] in PASSING_SQLSTATE_CLASSES


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: JSON for the API, Django's page elsewhere."""
    if is_api_request(request):
        return rejection_response(
            Forbidden("csrf_failed", f"CSRF verification failed ({reason}) Reload the page.")
        )
    return csrf.csrf_failure(request, reason)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON for the API, Django's page elsewhere."""
    if is_api_request(request):
        return rejection_response(NotFound("not_found", "There is no such API address."))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 with Retry-After while the database cannot be reached (the
    participant's browser sends its answers again, and each is stored once); 507 when the disk
    is full; otherwise Django's 500 page, or a JSON body for the API."""
    error = sys.exc_info()[1]  # Django calls this inside its handler of the uncaught error
    if database_away(error):
        return unavailable(request, error)
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return disk_full(request, error)
    if is_api_request(request):
        return rejection_response(
            ServerError("server_error", "The server failed on this request; it has been logged.")
        )
    return defaults.server_error(request)


def disk_full(request: HttpRequest, error: OSError) -> HttpResponse:
    """507: the server's disk (or quota) is full. Files are saved whole or not at all
    (``studyapp.storage``) and records after their files, so nothing half-written stays."""
    logger.error("Disk full during %s %s: %s", request.method, request.path, error)
    if is_api_request(request):
        return rejection_response(
            InsufficientStorage(
                "storage_full",
                "The server has no disk space left, so nothing from this request was stored. "
                "Please try again later.",
            )
        )
    return render(request, "participant/message.html", {"kind": "disk_full"}, status=507)


def unavailable(request: HttpRequest, error: BaseException) -> HttpResponse:
    """The 503 answer of a request that found the database unreachable."""
    logger.warning("Database unreachable during %s %s: %s", request.method, request.path, error)
    if is_api_request(request):
        response = rejection_response(
            Unavailable(
                "database_unavailable",
                "The study's server cannot save or load data for a moment. Your answers are "
                "kept in this browser and sent again; nothing is lost.",
            )
        )
    else:
        response = render(request, "participant/message.html", {"kind": "paused"}, status=503)
    response["Retry-After"] = str(settings.FACESIM_DATABASE_RETRY_AFTER_S)
    return response
