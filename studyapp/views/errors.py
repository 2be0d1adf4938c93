"""Error pages: the participant JSON API (``/api/``) answers its JSON error body instead."""

from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults

from studyapp.errors import Forbidden, NotFound, is_api_request, rejection_response


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
