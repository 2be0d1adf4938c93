"""Input for a trial counts only from a fresh press after its images have been on screen.

Each test answers a few trials the way a hasty participant does (a double-click, a held key, a
second key during the transition) and checks the stored responses: one per answered trial,
none for the trial that appeared in between.
"""

import pytest

from studyapp.models import Response, Trial
from tests.browser.test_participant_browser import open_study
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROUNDS = 4
MIN_EXPOSURE_MS = 150
# Where a test times its second press from Python, the study's guard is longer than the 120 ms
# double-click or the 40 ms between keys plus the driver's own delay on a loaded machine (up to
# ~0.3 s seen), so that a slow driver cannot turn a hasty press into a fresh one.
TIMED_EXPOSURE_MS = 600


def start_trials(page, live_server, pid, min_exposure_ms=MIN_EXPOSURE_MS):
    study = make_study(
        trials_per_participant=10,
        practice_trials=0,
        break_every=0,
        repeat_rate=0,
        catch_rate=0,
        min_exposure_ms=min_exposure_ms,
        min_rt_ms=100,
    )
    participant = open_study(page, live_server, study, pid)
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    return participant


def accepting_trial(page) -> int:
    """The index of the trial on screen, once it takes answers."""
    page.wait_for_selector("[data-faces][data-accepting]")
    return int(page.get_attribute("[data-faces]", "data-trial"))


def stored_after_sending(page, participant) -> list[Response]:
    page.wait_for_function(
        "() => Object.keys(localStorage).filter(k => k.startsWith('facesim:'))"
        ".every(k => localStorage.getItem(k) === '{}')"
    )
    return list(Response.objects.filter(trial__participant=participant).order_by("trial__index"))


def assert_only_these_answered(
    page, participant, answered: list[int], min_exposure_ms=MIN_EXPOSURE_MS
) -> list[Response]:
    # The guard keeps the trial that appeared after the last answer unanswered and on screen.
    assert accepting_trial(page) == answered[-1] + 1
    stored = stored_after_sending(page, participant)
    assert [r.trial.index for r in stored] == answered == list(range(ROUNDS))
    assert all(r.rt_ms >= min_exposure_ms for r in stored), [r.rt_ms for r in stored]
    return stored


def test_the_second_click_of_a_double_click_does_not_answer_the_next_trial(page, live_server):
    participant = start_trials(page, live_server, "double-clicker", TIMED_EXPOSURE_MS)
    answered = []
    for _ in range(ROUNDS):
        answered.append(accepting_trial(page))
        box = page.locator("[data-faces] .choice").nth(1).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.click(x, y)
        page.wait_for_timeout(120)
        page.mouse.click(x, y, click_count=2)  # the second click of a double-click
        page.wait_for_timeout(250)
    assert_only_these_answered(page, participant, answered, TIMED_EXPOSURE_MS)


def test_a_held_key_does_not_answer_the_next_trial(page, live_server):
    participant = start_trials(page, live_server, "key-holder")
    keyboard = page.context.new_cdp_session(page)
    key = {"key": "2", "code": "Digit2", "text": "2", "windowsVirtualKeyCode": 50}
    answered = []
    for round_ in range(ROUNDS):
        answered.append(accepting_trial(page))
        keyboard.send("Input.dispatchKeyEvent", {"type": "keyDown", **key})
        # Held for 0.6 s: keydowns without a keyup, flagged as auto-repeat or (as some
        # platforms and remote desktops send them) not.
        for _ in range(20):
            page.wait_for_timeout(30)
            event = {"type": "keyDown", "autoRepeat": round_ % 2 == 0, **key}
            keyboard.send("Input.dispatchKeyEvent", event)
        keyboard.send("Input.dispatchKeyEvent", {"type": "keyUp", **key})
    assert_only_these_answered(page, participant, answered)


def test_a_key_pressed_during_the_transition_does_not_answer_the_next_trial(page, live_server):
    participant = start_trials(page, live_server, "fast-keys", TIMED_EXPOSURE_MS)
    answered = []
    for _ in range(ROUNDS):
        answered.append(accepting_trial(page))
        page.keyboard.press("1")
        page.wait_for_timeout(40)
        page.keyboard.press("2")
        page.wait_for_timeout(250)
    stored = assert_only_these_answered(page, participant, answered, TIMED_EXPOSURE_MS)
    trials = {t.index: t for t in Trial.objects.filter(participant=participant)}
    assert [r.choice for r in stored] == [trials[i].items[0] for i in answered]  # key 1

    # A fresh press once the guard has passed answers as usual.
    page.keyboard.press("3")
    assert accepting_trial(page) == ROUNDS + 1
    assert len(stored_after_sending(page, participant)) == ROUNDS + 1
