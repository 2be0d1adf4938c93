"""The runner while the server's database is away (a real outage: ``database_outage``).

The participant goes on answering (the images are stored ahead), the answers wait in the
browser while the server answers 503, and once the database is back each is stored once.
"""

import time

import pytest

from studyapp.models import Response
from tests.browser.runner_driver import RunnerDriver
from tests.browser.test_input_guard import stored_after_sending
from tests.browser.test_participant_browser import assert_one_response_per_trial, open_study
from tests.browser.test_runner_network import (
    distinct_images,
    one_block_study,
    queued_answers,
    wait_until_stored,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stored(participant) -> int:
    return Response.objects.filter(trial__participant=participant).count()


def test_answers_given_while_the_database_is_away_are_stored_once_when_it_is_back(
    page, live_server, database_outage
):
    study = one_block_study(8, min_exposure_ms=20, min_rt_ms=10)
    participant = open_study(page, live_server, study, "db-outage")
    statuses = []
    page.on(
        "response",
        lambda response: "/responses" in response.url and statuses.append(response.status),
    )
    driver = RunnerDriver(page)
    driver.run(trials=2)
    assert len(stored_after_sending(page, participant)) == 2
    wait_until_stored(page, distinct_images(participant))  # every image of the session

    database_outage.away()
    driver.run(trials=3)
    deadline = time.monotonic() + 30
    while statuses.count(503) < 3:  # each of the three answers was sent and refused
        assert time.monotonic() < deadline, statuses
        page.wait_for_timeout(100)
    assert queued_answers(page, participant) == 3
    assert stored(participant) == 2
    assert 500 not in statuses

    database_outage.back()
    assert driver.run() == "complete"  # the rest, then the queue drains and the study completes
    assert_one_response_per_trial(participant)
    assert stored(participant) == 8
    assert 500 not in statuses
