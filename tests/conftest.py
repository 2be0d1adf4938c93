"""Shared fixtures: media in a temporary folder, browser-test settings."""

import os

import pytest

pytest_plugins = ["tests.compute_fixtures"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes uploaded files into its own folders (public and private)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters (in the test Redis database) start at zero in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def pytest_configure(config):
    # Playwright's sync API runs an event loop in the test thread; Django's ORM calls made by
    # the test itself (setup and checks, never concurrent with the server) are safe there.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
