"""Keyed hashes for participants' external ids (so raw ids are never stored)."""

import hashlib
import hmac

from django.conf import settings


def pseudonymise(external_id: str) -> str:
    """HMAC-SHA256 of the id under ``settings.PSEUDONYM_KEY``, as hex.

    The same id gives the same pseudonym in every study, so a data-deletion request can find
    all of a person's sessions; without the key the pseudonym cannot be linked back.
    """
    return hmac.new(
        settings.PSEUDONYM_KEY.encode(), external_id.strip().encode(), hashlib.sha256
    ).hexdigest()
