"""Which requests the database deadline watches, and that each is let go when it ends."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from studyapp import database_deadline
from studyapp.database_deadline import DatabaseDeadlineMiddleware


@pytest.mark.parametrize(
    ("path", "watched"),
    [
        ("/api/p/abc/responses", True),
        ("/s/a-study/", True),
        ("/healthz", True),
        ("/research/studies/a-study/", False),
        ("/admin/", False),
    ],
)
def test_participant_requests_are_watched_while_they_run(path, watched, settings):
    settings.FACESIM_REQUEST_DATABASE_DEADLINE_S = 10
    seen = []

    def view(request):
        seen.append(dict(database_deadline._watchdog.running))
        return HttpResponse("ok")

    response = DatabaseDeadlineMiddleware(view)(RequestFactory().get(path))
    assert response.status_code == 200
    assert bool(seen[0]) == watched
    assert database_deadline._watchdog.running == {}


def test_no_deadline_watches_nothing(settings):
    settings.FACESIM_REQUEST_DATABASE_DEADLINE_S = 0
    seen = []

    def view(request):
        seen.append(dict(database_deadline._watchdog.running))
        raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError):
        DatabaseDeadlineMiddleware(view)(RequestFactory().get("/api/p/abc/plan"))
    assert seen == [{}]


def test_a_request_that_raises_is_let_go(settings):
    settings.FACESIM_REQUEST_DATABASE_DEADLINE_S = 10

    def view(request):
        assert len(database_deadline._watchdog.running) == 1
        raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError):
        DatabaseDeadlineMiddleware(view)(RequestFactory().get("/api/p/abc/plan"))
    assert database_deadline._watchdog.running == {}
