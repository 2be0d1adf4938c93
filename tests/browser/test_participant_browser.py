"""A participant in a real browser: whole studies, reload and resume, lost connection."""

import pytest

from studyapp.models import Participant, Response, Trial
from tests.browser.runner_driver import RunnerDriver
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_study(page, live_server, study, pid):
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID={pid}&STUDY_ID=s&SESSION_ID=x")
    page.click("#consent-agree")
    page.wait_for_url("**/p/*/")
    return Participant.objects.get(study=study)


def assert_one_response_per_trial(participant, *, min_rt_ms=0.0):
    trials = Trial.objects.filter(participant=participant)
    responses = Response.objects.filter(trial__participant=participant)
    assert responses.count() == trials.count()
    assert responses.values("trial").distinct().count() == trials.count()
    rts = list(responses.values_list("rt_ms", flat=True))
    assert min(rts) >= min_rt_ms
    assert max(rts) < 60_000
    assert all(r.viewport_width == 1200 for r in responses)


@pytest.mark.parametrize(
    ("trial_type", "scale", "use_mouse"),
    [
        ("triplet", "1-7", False),
        ("afc", "1-7", True),
        ("rating", "1-7", True),
        ("rating", "0-100", False),
    ],
)
def test_a_whole_study_from_consent_to_completion_code(
    page, live_server, trial_type, scale, use_mouse
):
    study = make_study(
        trial_types=[trial_type],
        rating_scale=scale,
        trials_per_participant=8,
        break_every=4,
        practice_trials=1,
        repeat_rate=0.25,
        catch_rate=0.25,
    )
    page.route("https://example.org/**", lambda route: route.fulfill(body="back at Prolific"))
    participant = open_study(page, live_server, study, f"browser-{trial_type}")
    driver = RunnerDriver(page, use_mouse=use_mouse, think_ms=150)
    assert driver.run() == "complete"
    assert page.inner_text("[data-completion-code]") == "CODE123"
    assert page.get_attribute("[data-redirect-link]", "href") == study.redirect_url
    for stage in ("instructions", "block", "practice-done", "break", "debrief"):
        assert stage in driver.stages_seen
    participant.refresh_from_db()
    assert participant.status == "completed"
    assert participant.client_info["clients"][0]["viewport"] == {"width": 1200, "height": 900}
    assert_one_response_per_trial(participant, min_rt_ms=150)
    page.wait_for_url(study.redirect_url, timeout=10_000)


def test_reload_in_the_middle_resumes_at_the_first_unanswered_trial(page, live_server):
    study = make_study(trials_per_participant=10, break_every=0)
    participant = open_study(page, live_server, study, "reloader")
    driver = RunnerDriver(page)
    driver.run(trials=5)
    page.reload()
    page.wait_for_selector("section[data-stage=resume]:not([hidden])")
    assert driver.run() == "complete"
    assert sorted(driver.answered) == list(range(participant.trials.count()))
    assert_one_response_per_trial(participant)


def test_lost_connection_keeps_answers_and_sends_them_later(page, live_server):
    study = make_study(trials_per_participant=12, break_every=0)
    participant = open_study(page, live_server, study, "offline")
    driver = RunnerDriver(page)
    driver.run(trials=3)
    page.route("**/api/p/*/responses", lambda route: route.abort("internetdisconnected"))
    driver.run(trials=4)
    page.wait_for_selector("#connection:not([hidden])")
    stored_while_offline = Response.objects.filter(trial__participant=participant).count()
    assert stored_while_offline <= 4  # the three before, and perhaps the one in flight

    # A reload while still offline: the unsent answers survive in localStorage and the
    # runner does not show their trials again.
    page.reload()
    page.wait_for_selector("section[data-stage=resume]:not([hidden])")
    page.click("section[data-stage=resume] [data-next]")
    page.unroute("**/api/p/*/responses")
    assert driver.run() == "complete"
    assert sorted(driver.answered) == list(range(participant.trials.count()))
    assert_one_response_per_trial(participant)
    assert page.evaluate("localStorage.length") == 0


def test_slow_images_show_a_loading_state_and_rt_starts_when_they_appear(page, live_server):
    study = make_study(trials_per_participant=3, practice_trials=0, repeat_rate=0, catch_rate=0)
    participant = open_study(page, live_server, study, "slow")
    # Every request now takes 1.5 s longer (Chromium's network emulation, so the test's own
    # driver is not held up the way a blocking route handler would hold it). The latency is
    # far above what a busy machine adds to the driver's 100 ms think time (up to ~0.6 s seen
    # in a full run on 2 cores), so an RT that included the image wait could not pass.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    page.wait_for_selector("[data-loading]:not([hidden])")
    driver = RunnerDriver(page, think_ms=100)
    assert driver.run() == "complete"
    rts = Response.objects.filter(trial__participant=participant).values_list("rt_ms", flat=True)
    # Waiting for images is not reaction time: every RT is the think time plus the driver's
    # own delay, well below the 1.5 s the images took.
    assert all(100 <= rt < 1000 for rt in rts), list(rts)


def test_touch_screen_participant(browser, live_server):
    """A phone-sized touch screen: every answer and button is a tap."""
    context = browser.new_context(
        viewport={"width": 1200, "height": 900}, has_touch=True, is_mobile=False
    )
    page = context.new_page()
    try:
        study = make_study(trial_types=["afc"], trials_per_participant=6, break_every=0)
        participant = open_study(page, live_server, study, "touch")
        driver = RunnerDriver(page, use_touch=True)
        assert driver.run() == "complete"
        assert_one_response_per_trial(participant)
        participant.refresh_from_db()
        assert participant.client_info["clients"][0]["touch"] == "True"
    finally:
        context.close()
