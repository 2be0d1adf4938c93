"""``/healthz``: the process answers and reaches the database (for load balancers)."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from studyapp.views.errors import DATABASE_AWAY

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"ok": true}``; 503 ``{"ok": false}`` when the database cannot be reached (the
    reason goes to the log, not to whoever asks)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_AWAY as error:
        logger.warning("Health check: the database cannot be reached: %s", error)
        return JsonResponse({"ok": False, "database": "unreachable"}, status=503)
    return JsonResponse({"ok": True})
