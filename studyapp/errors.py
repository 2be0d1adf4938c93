"""Errors that reach a client as a JSON body ``{"error": {"code", "message", "field"}}``."""

from django.http import HttpRequest, JsonResponse

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for the participant JSON API (errors answer JSON there)."""
    return request.path_info.startswith(API_PREFIX)


class RequestRejected(Exception):
    """Base: a request the server refuses, with an HTTP status and a clear message."""

    status = 400

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(RequestRejected):
    status = 400


class Forbidden(RequestRejected):
    status = 403


class NotFound(RequestRejected):
    status = 404


class MethodNotAllowed(RequestRejected):
    status = 405


class Conflict(RequestRejected):
    status = 409


class PayloadTooLarge(RequestRejected):
    status = 413


class Unprocessable(RequestRejected):
    status = 422


class TooManyRequests(RequestRejected):
    status = 429


class ServerError(RequestRejected):
    status = 500


class Unavailable(RequestRejected):
    status = 503


class InsufficientStorage(RequestRejected):
    status = 507


def rejection_response(rejected: RequestRejected) -> JsonResponse:
    """The JSON body of a rejected request, with its status."""
    return JsonResponse(rejected.as_json(), status=rejected.status)
