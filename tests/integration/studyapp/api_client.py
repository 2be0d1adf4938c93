"""Calls of the participant JSON API as the runner makes them."""

import json

from django.urls import reverse


def post(api, participant, body, name="api-responses"):
    """POST `body` (a dict as JSON, or raw text/bytes) to the session's endpoint `name`."""
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return api.post(reverse(name, args=[participant.token]), raw, content_type="application/json")


def plan(api, participant):
    return api.get(reverse("api-plan", args=[participant.token])).json()
