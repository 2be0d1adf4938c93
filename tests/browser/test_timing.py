"""Timed presentation in a real browser: frame counts, full-screen requirement, resume mid-trial.

Headless Chromium runs requestAnimationFrame at about 60 Hz; each test measures the actual
frame interval in the page and checks the runner's own numbers against it.
"""

import csv
import io

import pytest

from studyapp.models import Response
from studyapp.selectors.dashboard import participant_quality
from studyapp.selectors.exports import responses_csv_chunks
from tests.browser.runner_driver import RunnerDriver
from tests.browser.test_input_guard import accepting_trial, stored_after_sending
from tests.browser.test_participant_browser import open_study
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPOSURE_MS = 100
FIXATION_MS = 300
MASK_MS = 100
DEADLINE_MS = 2000
TIMED = {
    "fixation_ms": FIXATION_MS,
    "exposure_ms": EXPOSURE_MS,
    "mask": "noise",
    "mask_ms": MASK_MS,
}
MEASURE_REFRESH = """() => new Promise((resolve) => {
  const stamps = [];
  const tick = (t) => {
    stamps.push(t);
    if (stamps.length < 41) return requestAnimationFrame(tick);
    const d = stamps.slice(1).map((s, i) => s - stamps[i]).sort((a, b) => a - b);
    resolve(d[20]);
  };
  requestAnimationFrame(tick);
})"""


def timed_study(**fields):
    defaults = {
        "trials_per_participant": 6,
        "practice_trials": 0,
        "break_every": 0,
        "repeat_rate": 0,
        "catch_rate": 0,
        "timing": TIMED,
    }
    return make_study(**(defaults | fields))


def exported_rows(study) -> list[dict]:
    text = b"".join(responses_csv_chunks(study=study)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_100_ms_exposure_lasts_six_frames_and_the_export_has_the_durations(page, live_server):
    study = timed_study()
    participant = open_study(page, live_server, study, "timed")
    refresh = page.evaluate(MEASURE_REFRESH)
    assert 14 < refresh < 20, f"headless Chromium's frame interval is {refresh} ms"
    assert RunnerDriver(page).run() == "complete"

    responses = list(Response.objects.filter(trial__participant=participant))
    assert len(responses) == 6
    for response in responses:
        assert response.refresh_ms == pytest.approx(refresh, abs=1.5)
        exposure = response.stimulus_offset_ms - response.stimulus_onset_ms
        frames = exposure / response.refresh_ms
        assert 5 <= round(frames) <= 7, (exposure, response.refresh_ms)
        # the fixation cross stood for its 300 ms (to the nearest frame, plus dropped frames)
        assert FIXATION_MS - refresh <= response.stimulus_onset_ms <= FIXATION_MS + 4 * refresh
        assert response.too_slow is False
        assert response.interrupted_attempts == 0

    rows = {int(r["trial_index"]): r for r in exported_rows(study)}
    for response in responses:
        row = rows[response.trial.index]
        assert float(row["exposure_measured_ms"]) == pytest.approx(
            response.stimulus_offset_ms - response.stimulus_onset_ms
        )
        assert float(row["refresh_ms"]) == pytest.approx(response.refresh_ms)


def test_untimed_faces_stay_until_the_answer(page, live_server):
    study = timed_study(timing={"fixation_ms": FIXATION_MS})
    participant = open_study(page, live_server, study, "untimed")
    RunnerDriver(page, think_ms=400).run(trials=2)
    # the answer is queued in the frame that hides the faces: by the time the next trial
    # takes answers, both are
    assert accepting_trial(page) == 2
    stored = stored_after_sending(page, participant)
    for response in stored[:2]:
        shown = response.stimulus_offset_ms - response.stimulus_onset_ms
        # hidden in the first frame after the answer: at least the RT (and the 400 ms thought)
        assert shown >= 400
        assert shown >= response.rt_ms - 20, (shown, response.rt_ms)


def test_a_late_answer_is_flagged_too_slow_and_the_message_shown(page, live_server):
    # a deadline far beyond the driver's delay on a loaded machine, so the second answer is in time
    study = timed_study(timing={"deadline_ms": DEADLINE_MS})
    participant = open_study(page, live_server, study, "slow")
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    accepting_trial(page)
    page.wait_for_selector("[data-trial-message]:not([hidden])")
    assert "Too slow" in page.inner_text("[data-trial-message]")
    page.keyboard.press("1")
    assert accepting_trial(page) == 1
    assert page.is_hidden("[data-trial-message]")
    page.keyboard.press("1")  # answered in time: no flag
    assert accepting_trial(page) == 2
    stored = stored_after_sending(page, participant)
    assert stored[0].too_slow is True
    assert stored[0].rt_ms >= DEADLINE_MS
    assert stored[1].too_slow is False


def test_reloading_mid_trial_restarts_it_from_fixation_and_records_the_interruption(
    page, live_server
):
    study = timed_study(timing={"fixation_ms": 1500, "exposure_ms": EXPOSURE_MS})
    participant = open_study(page, live_server, study, "reloader")
    RunnerDriver(page).run(trials=1)
    page.wait_for_selector("[data-fixation]:not([hidden])")  # trial 1 has begun: reload now
    page.reload()
    page.click("section[data-stage=resume] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    # the trial starts again from its fixation cross
    page.wait_for_selector("[data-fixation]:not([hidden])")
    assert accepting_trial(page) == 1
    page.keyboard.press("2")
    accepting_trial(page)
    stored = stored_after_sending(page, participant)
    assert [r.trial.index for r in stored] == [0, 1]
    assert [r.interrupted_attempts for r in stored] == [0, 1]
    assert stored[1].stimulus_onset_ms >= 1500 - 20
    assert {int(r["trial_index"]): r["interrupted_attempts"] for r in exported_rows(study)} == {
        0: "0",
        1: "1",
    }


def test_a_study_that_requires_full_screen_pauses_when_it_is_left(page, live_server):
    study = timed_study(require_fullscreen=True, timing={"fixation_ms": 1500})
    participant = open_study(page, live_server, study, "fullscreen")
    page.click("section[data-stage=instructions] [data-next]")
    page.wait_for_function("() => document.fullscreenElement !== null")
    page.click("section[data-stage=block] [data-next]")
    page.wait_for_selector("[data-fixation]:not([hidden])")
    page.evaluate("() => document.exitFullscreen()")
    page.wait_for_selector("section[data-stage=fullscreen]:not([hidden])")
    assert page.is_hidden("section[data-stage=trial]")
    page.click("section[data-stage=fullscreen] [data-next]")
    page.wait_for_function("() => document.fullscreenElement !== null")
    assert accepting_trial(page) == 0
    page.keyboard.press("1")
    accepting_trial(page)
    stored = stored_after_sending(page, participant)
    assert stored[0].fullscreen_exits == 1
    assert stored[0].interrupted_attempts == 1


# Headless Chromium never hides a tab or moves focus away (a second page brought to the front
# leaves the first one visible and focused), so this test fires the browser's own events with
# the page made to report "hidden" for the moment: the runner's listeners are what is tested.
HIDE_AND_BLUR = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
  window.dispatchEvent(new Event("blur"));
  window.dispatchEvent(new Event("blur"));
}"""


def test_tab_switches_and_blurs_during_a_trial_are_counted_for_that_trial(page, live_server):
    study = timed_study(timing={"practice_feedback": True, "iti_ms": 500}, practice_trials=1)
    participant = open_study(page, live_server, study, "restless")
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    assert accepting_trial(page) == 0  # the practice trial
    page.evaluate(HIDE_AND_BLUR)
    page.keyboard.press("1")
    page.wait_for_selector("[data-trial-message]:not([hidden])")
    assert page.inner_text("[data-trial-message]").startswith("Answered in")
    page.click("section[data-stage=practice-done] [data-next]")
    assert accepting_trial(page) == 1
    page.keyboard.press("1")
    accepting_trial(page)
    stored = stored_after_sending(page, participant)
    assert [(r.hidden_count, r.blur_count) for r in stored[:2]] == [(1, 2), (0, 0)]
    rows = participant_quality(study=study)
    assert (rows[0]["hidden"], rows[0]["blurs"]) == (1, 2)


@pytest.mark.parametrize("mask", ["noise", "scrambled"])
def test_the_mask_replaces_the_faces_after_the_exposure_then_goes(page, live_server, mask):
    study = timed_study(timing={"exposure_ms": 200, "mask": mask, "mask_ms": 400})
    participant = open_study(page, live_server, study, f"masked-{mask}")
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    page.wait_for_selector("[data-faces] canvas.mask:not([hidden])")
    shown = page.eval_on_selector_all(
        "[data-faces] img", "images => images.map(i => getComputedStyle(i).visibility)"
    )
    assert shown == ["hidden"] * 3
    masks = page.eval_on_selector_all("[data-faces] canvas.mask", "m => m.map(c => c.width)")
    assert len(masks) == 3
    assert all(w > 0 for w in masks)
    page.wait_for_selector("[data-faces] canvas.mask", state="hidden")
    page.keyboard.press("1")
    accepting_trial(page)
    (response,) = stored_after_sending(page, participant)[:1]
    exposure = response.stimulus_offset_ms - response.stimulus_onset_ms
    assert 200 - response.refresh_ms <= exposure <= 200 + 2 * response.refresh_ms
