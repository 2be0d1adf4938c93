"""A test client for the participant JSON API (no CSRF: the API does not use cookies)."""

import pytest
from django.test import Client


@pytest.fixture
def api():
    return Client(enforce_csrf_checks=False)
