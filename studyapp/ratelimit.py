"""Fixed-window rate limits kept in Redis, for the participant endpoints.

A client over its limit gets 429 with ``Retry-After``; nothing it sent is processed. Limits
are per session token (API) or per client address (start link, consent).
"""

import hashlib
import time
from collections.abc import Callable
from functools import lru_cache, wraps

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from studyapp.errors import TooManyRequests

WINDOW_SECONDS = 60


def client_address(request: HttpRequest) -> str:
    if settings.FACESIM_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.FACESIM_REDIS_URL)


def over_limit(scope: str, key: str, per_minute: int) -> int:
    """Count one request; returns 0 if allowed, else the seconds until the window resets.

    One round trip: INCR the window's counter and give it an expiry if it has none (no
    MULTI/EXEC: a counter that misses its expiry by a crash only holds a stale window key).
    """
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]  # any key, safely
    bucket = f"facesim:ratelimit:{scope}:{digest}:{window}"
    count, _ = (
        _redis()
        .pipeline(transaction=False)
        .incr(bucket)
        .expire(bucket, WINDOW_SECONDS + 5, nx=True)
        .execute()
    )
    if count <= per_minute:
        return 0
    return max(1, int((window + 1) * WINDOW_SECONDS - now))


def rate_limit(scope: str, per_minute_setting: str, *, by: str) -> Callable:
    """Limit a view; ``by`` is "token" (the view's ``token`` argument) or "address"."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            key = kwargs.get("token", "") if by == "token" else client_address(request)
            wait = over_limit(scope, key, getattr(settings, per_minute_setting))
            if not wait:
                return view(request, *args, **kwargs)
            if request.path.startswith("/api/"):
                rejected = TooManyRequests("rate_limited", f"Too many requests; retry in {wait} s.")
                response = JsonResponse(rejected.as_json(), status=rejected.status)
            else:
                response = render(request, "participant/message.html", {"kind": "busy"}, status=429)
            response["Retry-After"] = str(wait)
            return response

        return wrapper

    return decorator
