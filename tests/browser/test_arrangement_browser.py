"""Multi-arrangement trials in Chromium: faces dragged into the arena with the mouse and with
touch (Chromium's own touch input, seen by the page as touch pointers), the keyboard fallback,
a reload mid-trial that restores the placed faces, and each trial stored exactly once with the
positions where the faces were put."""

import pytest

from studyapp.models import Participant, Response, Trial
from tests.browser.runner_driver import RunnerDriver
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
POINTER_TYPES = """
window.__pointerTypes = [];
document.addEventListener("pointerdown", (e) => window.__pointerTypes.push(e.pointerType), true);
"""


def arrangement_study(**fields):
    defaults = {
        "trial_types": ["arrangement"],
        "arrangement": {"first_size": 6, "subset_size": 4},
        "trials_per_participant": 3,
        "practice_trials": 0,
        "break_every": 0,
        "repeat_rate": 0,
        "catch_rate": 0,
    }
    return make_study(**(defaults | fields))


def open_study(page, live_server, study, pid):
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID={pid}&STUDY_ID=s&SESSION_ID=x")
    page.click("#consent-agree")
    page.wait_for_url("**/p/*/")
    return Participant.objects.get(study=study)


def to_first_trial(driver):
    while driver.stage() != "trial":
        driver.page.locator("section[data-stage]:not([hidden]) [data-next]").click()
    driver.page.wait_for_selector("[data-faces][data-accepting]")


def assert_stored_once(participant, sizes):
    trials = list(Trial.objects.filter(participant=participant).order_by("index"))
    responses = list(Response.objects.filter(trial__participant=participant).order_by("trial"))
    assert [len(t.items) for t in trials] == sizes
    assert len(responses) == len(trials)
    for trial, response in zip(trials, responses, strict=True):
        assert set(response.positions) == {str(i) for i in trial.items}
        assert {m[1] for m in response.moves} == set(trial.items)
    return responses


def assert_near(stored, targets, tolerance=0.03):
    for face_id, (x, y) in targets.items():
        sx, sy = stored[face_id]
        assert abs(sx - x) < tolerance, (face_id, stored[face_id], (x, y))
        assert abs(sy - y) < tolerance, (face_id, stored[face_id], (x, y))


def test_mouse_drags_place_faces_where_dropped_and_each_trial_is_stored_once(page, live_server):
    study = arrangement_study()
    participant = open_study(page, live_server, study, "mouse")
    driver = RunnerDriver(page, use_mouse=True)
    to_first_trial(driver)
    targets = driver.arrange()
    assert driver.run() == "complete"
    responses = assert_stored_once(participant, [6, 4, 4])
    assert_near(responses[0].positions, targets)
    # the later subsets were chosen by the server from the stored arrangements
    assert responses[1].trial.items != responses[2].trial.items


def test_touch_drags_arrange_the_faces(browser, live_server):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(POINTER_TYPES)
    try:
        study = arrangement_study(trials_per_participant=1)
        participant = open_study(page, live_server, study, "touch")
        driver = RunnerDriver(page, use_touch=True)
        to_first_trial(driver)
        targets = driver.arrange()
        assert driver.run() == "complete"
        assert set(page.evaluate("window.__pointerTypes")) >= {"touch"}
    finally:
        context.close()
    assert errors == []
    (response,) = assert_stored_once(participant, [6])
    assert_near(response.positions, targets)


def test_keyboard_alone_arranges_the_faces(page, live_server):
    study = arrangement_study(trials_per_participant=2)
    participant = open_study(page, live_server, study, "keys")
    driver = RunnerDriver(page)
    to_first_trial(driver)
    done = page.locator("[data-arrangement-done]")
    assert done.is_disabled()  # until every face is in the arena
    page.keyboard.press("Tab")  # the faces are in the tab order
    assert page.evaluate("document.activeElement.classList.contains('arrange-face')")
    targets = driver.arrange()
    assert driver.run() == "complete"
    responses = assert_stored_once(participant, [6, 4])
    assert_near(responses[0].positions, targets, tolerance=1e-6)
    # one stored move per key press
    assert len(responses[0].moves) == sum(
        (1 + 3 * (n % 4)) + abs(3 * ((n // 4) % 4) - 4) for n in range(6)
    )


def test_a_reload_mid_trial_restores_the_placed_faces(page, live_server):
    study = arrangement_study(trials_per_participant=2)
    participant = open_study(page, live_server, study, "resume")
    driver = RunnerDriver(page, use_mouse=True)
    to_first_trial(driver)
    first = driver.arrange(count=3, finish=False)
    placed = page.eval_on_selector_all(
        ".arena .arrange-face", "els => els.map(e => [e.dataset.id, e.style.left, e.style.top])"
    )
    page.reload()  # nothing is answered yet: the instructions come again, then the trial
    to_first_trial(driver)
    restored = page.eval_on_selector_all(
        ".arena .arrange-face", "els => els.map(e => [e.dataset.id, e.style.left, e.style.top])"
    )
    assert sorted(restored) == sorted(placed)
    assert page.locator(".tray .arrange-face").count() == 3
    rest = driver.arrange()
    assert driver.run() == "complete"
    responses = assert_stored_once(participant, [6, 4])
    assert_near(responses[0].positions, first | rest)
    times = [m[0] for m in responses[0].moves]
    assert times == sorted(times)
    assert len(times) == 6
