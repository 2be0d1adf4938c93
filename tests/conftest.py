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


class DatabaseOutage:
    """A real outage of the database for every other session (a live server's): PostgreSQL
    ends their sessions, as a restart does, and new connections go to a port where nothing
    listens until ``back()``. The test's own open session keeps working, for its checks."""

    def __init__(self):
        self.patch = pytest.MonkeyPatch()

    def away(self) -> int:
        """Ends the other sessions and returns how many there were."""
        from django.db import connection, connections

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            ended = cursor.rowcount
        self.patch.setitem(connections.settings["default"], "PORT", "1")
        return ended

    def back(self) -> None:
        self.patch.undo()


@pytest.fixture
def database_outage():
    outage = DatabaseOutage()
    yield outage
    outage.back()


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
