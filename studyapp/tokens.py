"""Session tokens: the secret in a participant's URLs and cookie (``secrets.token_urlsafe``)."""

import re

TOKEN_PATTERN = "[A-Za-z0-9_-]{1,64}"
_TOKEN = re.compile(TOKEN_PATTERN)


def is_session_token(value: str | None) -> bool:
    """Whether ``value`` has the shape of a session token (so it is safe to look up)."""
    return value is not None and _TOKEN.fullmatch(value) is not None


class SessionTokenConverter:
    """URL converter: a path segment that is not token-shaped never reaches a view (404)."""

    regex = TOKEN_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
