"""Fixed-window rate limits kept in Redis, for the participant endpoints.

A client over its limit gets 429 with ``Retry-After``; nothing it sent is processed. Limits
are per session token (API) or per client address (start link, consent). When Redis is down
or slow (``FACESIM_REDIS_TIMEOUT_SECONDS``), requests are let through and a warning is logged:
participants keep working without rate limits rather than losing their answers.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from functools import lru_cache, wraps

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studyapp.errors import TooManyRequests, is_api_request, rejection_response

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address; behind a trusted proxy, the one it appended to X-Forwarded-For.

    Only the last entry is written by our proxy: the client controls every earlier one.
    """
    if settings.FACESIM_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "")


class _Counter:
    """The Redis client of the rate limits; after a failure it rests for a while.

    While Redis is unreachable (down, frozen, partitioned) only the first request in every
    ``FACESIM_REDIS_RETRY_SECONDS`` waits for the socket timeout and logs a warning; the
    others skip the rate limit at once.
    """

    def __init__(self) -> None:
        timeout = settings.FACESIM_REDIS_TIMEOUT_SECONDS
        self.client = redis.Redis.from_url(
            settings.FACESIM_REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self.resting_until = 0.0

    def incr(self, bucket: str) -> int | None:
        """The bucket's count after this request, or None when Redis is unavailable."""
        if time.monotonic() < self.resting_until:
            return None
        try:
            count, _ = (
                self.client.pipeline(transaction=False)
                .incr(bucket)
                .expire(bucket, WINDOW_SECONDS + 5, nx=True)
                .execute()
            )
        except redis.RedisError as error:
            rest = settings.FACESIM_REDIS_RETRY_SECONDS
            self.resting_until = time.monotonic() + rest
            logger.warning("Redis unavailable (%s): rate limits are off for %s s.", error, rest)
            return None
        return count


@lru_cache(maxsize=1)
def _counter() -> _Counter:
    return _Counter()


def over_limit(scope: str, key: str, per_minute: int) -> int:
    """Count one request; returns 0 if allowed (or Redis is unavailable), else the seconds
    until the window resets.

    One round trip: INCR the window's counter and give it an expiry if it has none (no
    MULTI/EXEC: a counter that misses its expiry by a crash only holds a stale window key).
    """
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]  # any key, safely
    count = _counter().incr(f"facesim:ratelimit:{scope}:{digest}:{window}")
    if count is None or count <= per_minute:
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
            if is_api_request(request):
                response = rejection_response(
                    TooManyRequests("rate_limited", f"Too many requests; retry in {wait} s.")
                )
            else:
                response = render(request, "participant/message.html", {"kind": "busy"}, status=429)
            response["Retry-After"] = str(wait)
            return response

        return wrapper

    return decorator
