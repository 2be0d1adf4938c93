"""The runner on a bad connection: intermittent loss, a whole block offline, a busy server."""

import json
import time

import pytest

from studyapp.models import Participant, Stimulus, Trial
from tests.browser.runner_driver import RunnerDriver
from tests.browser.test_input_guard import stored_after_sending
from tests.browser.test_participant_browser import assert_one_response_per_trial, open_study
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONSES = "**/api/p/*/responses"


def one_block_study(trials: int, **fields):
    return make_study(
        trials_per_participant=trials,
        practice_trials=0,
        break_every=0,
        repeat_rate=0,
        catch_rate=0,
        **fields,
    )


def queued_answers(page, participant) -> int:
    return page.evaluate(
        "key => Object.keys(JSON.parse(localStorage.getItem(key))).length",
        f"facesim:{participant.token}",
    )


def test_a_60_response_queue_drains_within_seconds_when_every_other_post_fails(page, live_server):
    study = one_block_study(60, min_exposure_ms=20, min_rt_ms=10)
    participant = open_study(page, live_server, study, "intermittent")
    page.route(RESPONSES, lambda route: route.abort("internetdisconnected"))
    driver = RunnerDriver(page)
    driver.run(trials=60)  # all 60 answers queued on the device
    page.click("section[data-stage=debrief] [data-next]")
    page.wait_for_selector("section[data-stage=saving]:not([hidden])")
    assert queued_answers(page, participant) == 60

    posts = []

    def every_other_fails(route):
        posts.append(time.monotonic())
        route.abort("connectionreset") if len(posts) % 2 else route.continue_()

    page.unroute(RESPONSES)
    page.route(RESPONSES, every_other_fails)
    started = time.monotonic()
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the connection is back
    page.wait_for_selector("section[data-stage=complete]:not([hidden])", timeout=60_000)
    drained_s = time.monotonic() - started
    print(f"60 responses drained in {drained_s:.1f} s with {len(posts)} POSTs")
    assert drained_s < 15
    assert len(posts) >= 119  # each response failed at least once, or was sent on 1 of 2 tries
    assert_one_response_per_trial(participant)


def distinct_images(participant) -> int:
    items = {i for t in Trial.objects.filter(participant=participant) for i in t.items}
    return Stimulus.objects.filter(pk__in=items).count()


def stored_images(page) -> int:
    return page.evaluate("caches.open('facesim-stimuli').then(c => c.keys()).then(k => k.length)")


def wait_until_stored(page, count: int, timeout_s: float = 30) -> None:
    """Poll Cache Storage (wait_for_function would take the Promise itself as true)."""
    deadline = time.monotonic() + timeout_s
    while stored_images(page) < count:
        assert time.monotonic() < deadline, f"{stored_images(page)} of {count} images stored"
        page.wait_for_timeout(100)


def test_a_whole_block_can_be_answered_offline(page, live_server):
    study = one_block_study(24)
    participant = open_study(page, live_server, study, "offline-block")
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    page.wait_for_selector("[data-faces][data-accepting]")
    wait_until_stored(page, distinct_images(participant))

    failed_images = []
    page.on("requestfailed", lambda r: "/media/" in r.url and failed_images.append(r.url))
    page.context.set_offline(True)
    driver = RunnerDriver(page)
    driver.run(trials=24)
    assert sorted(driver.answered) == list(range(24))
    assert failed_images == []  # every image came from the store, none was asked of the network
    page.wait_for_selector("#connection:not([hidden])")
    # The first answer may have been sent before the connection dropped.
    assert queued_answers(page, participant) >= 23

    page.context.set_offline(False)
    assert driver.run() == "complete"
    assert_one_response_per_trial(participant)
    assert stored_after_sending(page, participant)
    assert stored_images(page) == 0  # the store is dropped once the session is complete


def test_stored_images_survive_a_reload(page, live_server):
    study = one_block_study(12)
    participant = open_study(page, live_server, study, "reload-cache")
    driver = RunnerDriver(page)
    driver.run(trials=2)
    wait_until_stored(page, distinct_images(participant))
    page.reload()
    image_requests = []
    page.route(
        "**/media/**", lambda route: (image_requests.append(route.request.url), route.abort())
    )
    assert driver.run() == "complete"
    assert image_requests == []  # every image came from the store
    assert_one_response_per_trial(participant)


def test_complete_is_retried_after_a_429_with_its_retry_after(page, live_server):
    study = one_block_study(3)
    participant = open_study(page, live_server, study, "busy")
    attempts = []

    def busy_once(route):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            route.fulfill(
                status=429,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body='{"error": {"code": "rate_limited", "message": "Slow down.", "field": null}}',
            )
        else:
            route.continue_()

    page.route("**/api/p/*/complete", busy_once)
    assert RunnerDriver(page).run() == "complete"
    assert page.inner_text("[data-completion-code]") == "CODE123"
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 1.9  # Retry-After: 2 (seconds) was honoured
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED


def test_a_refused_answer_is_explained_at_once_and_its_trial_asked_again(page, live_server):
    """The server refuses one answer (an RT below the study's floor, as a forged or broken
    client would send): the participant reads why and what to do, the trial comes again
    before the end, and the session counts the refusal."""
    study = one_block_study(3)
    participant = open_study(page, live_server, study, "refused")
    forged = []

    def first_too_fast(route):
        if forged:
            return route.continue_()
        body = {**route.request.post_data_json, "rt_ms": 0}
        forged.append(body["trial"])
        route.continue_(post_data=json.dumps(body))

    page.route(RESPONSES, first_too_fast)
    driver = RunnerDriver(page)
    driver.run(trials=1)
    notice = page.wait_for_selector("#refusal:not([hidden])")
    assert "not accepted ('rt_ms' must be above 0" in notice.inner_text()
    assert "shown again before the end: just carry on" in notice.inner_text()
    assert driver.run() == "complete"
    assert driver.answered.count(forged[0]) == 2
    assert_one_response_per_trial(participant)
    participant.refresh_from_db()
    assert participant.refused_responses == 1


def test_an_answer_for_a_session_the_server_no_longer_knows_asks_for_a_reload(page, live_server):
    study = one_block_study(3)
    participant = open_study(page, live_server, study, "forgotten")
    driver = RunnerDriver(page)
    driver.run(trials=1)  # the plan is loaded; then the server forgets the session
    Participant.objects.filter(pk=participant.pk).update(token="another-token")
    driver.run(trials=1)
    notice = page.wait_for_selector("#refusal:not([hidden])")
    assert notice.inner_text() == (
        "Your last answer could not be saved (This session does not exist.). "
        "Please reload the page."
    )
