"""Refuse weak secrets at start-up (production settings)."""

import math
import zlib
from collections import Counter

from django.core.exceptions import ImproperlyConfigured

MIN_KEY_BYTES = 32
MIN_DISTINCT_CHARACTERS = 10
MIN_ESTIMATED_BITS = 160  # random 32-byte keys (token_urlsafe / token_hex) give 180 and more
MAX_COMPRESSION_BYTES = 20  # a repeated pattern compresses; random text does not


def estimated_bits(key: str) -> float:
    """Length times the empirical (Shannon) entropy per character: a floor check only."""
    counts = Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values())


def require_strong_key(name: str, key: str) -> str:
    """``key`` if it looks like at least 32 random bytes, else ImproperlyConfigured.

    Checks the length, the variety of characters, the entropy estimate and that the key does
    not compress (repeated blocks). A simple check: it cannot tell a long passphrase of
    common words from random text.
    """
    raw = key.encode()
    bits = estimated_bits(key)
    saved = len(raw) - len(zlib.compress(raw, 9))
    if (
        len(raw) < MIN_KEY_BYTES
        or len(set(key)) < MIN_DISTINCT_CHARACTERS
        or bits < MIN_ESTIMATED_BITS
        or saved > MAX_COMPRESSION_BYTES
    ):
        raise ImproperlyConfigured(
            f"{name} must be at least {MIN_KEY_BYTES} random bytes, e.g. the output of "
            f'`python -c "import secrets; print(secrets.token_urlsafe({MIN_KEY_BYTES}))"`; '
            f"got {len(raw)} bytes, {len(set(key))} distinct characters, about {bits:.0f} "
            "bits of entropy."
        )
    return key
