"""Errors that reach a client as a JSON body ``{"error": {"code", "message", "field"}}``."""


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


class NotFound(RequestRejected):
    status = 404


class Conflict(RequestRejected):
    status = 409


class PayloadTooLarge(RequestRejected):
    status = 413


class Unprocessable(RequestRejected):
    status = 422


class TooManyRequests(RequestRejected):
    status = 429
