"""Screening in a real browser: the comprehension check passed and failed, a window too small
that is enlarged after the first check, and one that stays too small."""

import pytest

from studyapp.models import Participant, Response
from tests.browser.runner_driver import RunnerDriver
from tests.browser.test_participant_browser import assert_one_response_per_trial, open_study
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    {
        "question": "Which face do you choose?",
        "options": ["The most similar", "The odd one"],
        "answer": 1,
    },
    {"question": "Do practice trials count?", "options": ["Yes", "No", "Sometimes"], "answer": 1},
]
SMALL = {
    "trials_per_participant": 4,
    "practice_trials": 0,
    "break_every": 0,
    "repeat_rate": 0,
    "catch_rate": 0,
}


def stage(page, name: str) -> str:
    """Wait until the stage ``name`` shows; its text."""
    return page.inner_text(f"section[data-stage={name}]:not([hidden])")


def answer_questions(page, answers):
    page.wait_for_selector("section[data-stage=comprehension]:not([hidden]) fieldset")
    for number, option in enumerate(answers):
        page.check(f'input[name="question-{number}"][value="{option}"]')
    page.click("[data-check-answers]")


def start(page, live_server, study, pid):
    participant = open_study(page, live_server, study, pid)
    page.click("section[data-stage=instructions] [data-next]")
    return participant


def test_passing_the_comprehension_check_leads_to_the_trials(page, live_server):
    study = make_study(**SMALL, comprehension_questions=QUESTIONS, comprehension_attempts=2)
    participant = start(page, live_server, study, "pass")
    page.click("[data-check-answers]")  # nothing chosen yet: asked to answer every question
    assert page.inner_text("[data-comprehension-message]") == "Please answer every question."
    answer_questions(page, [0, 1])  # wrong: the instructions again, then a second attempt
    stage(page, "instructions")
    page.click("section[data-stage=instructions] [data-next]")
    assert "1 attempt left" in page.inner_text("[data-comprehension-message]")
    answer_questions(page, [1, 1])
    stage(page, "block")
    assert RunnerDriver(page).run() == "complete"
    assert page.inner_text("[data-completion-code]") == "CODE123"
    participant.refresh_from_db()
    assert (participant.screening, participant.comprehension_failures) == ("passed", 1)
    assert_one_response_per_trial(participant)


def test_failing_the_comprehension_check_ends_politely_without_a_code(page, live_server):
    study = make_study(**SMALL, comprehension_questions=QUESTIONS, comprehension_attempts=2)
    participant = start(page, live_server, study, "fail")
    answer_questions(page, [0, 0])
    page.click("section[data-stage=instructions] [data-next]")
    answer_questions(page, [1, 2])
    text = stage(page, "screened-out")
    assert "questions about the instructions were not right" in text
    assert "no completion code" in text
    assert "CODE123" not in page.content()
    assert not page.is_visible("[data-completion-code]")
    participant.refresh_from_db()
    assert participant.screening == "comprehension"
    assert not Response.objects.exists()
    page.reload()  # a reload lands on the same end page
    assert "no completion code" in stage(page, "screened-out")


def test_a_too_small_window_is_explained_and_passes_after_resizing(page, live_server):
    study = make_study(**SMALL, min_viewport_width=1400, min_viewport_height=700)
    participant = start(page, live_server, study, "resize")
    stage(page, "screen-window")
    assert page.inner_text("[data-needed-size]") == "1400 × 700"
    assert page.inner_text("[data-current-size]") == "1200 × 900"
    page.set_viewport_size({"width": 1500, "height": 900})
    page.click("section[data-stage=screen-window] [data-next]")
    stage(page, "block")  # the window is checked again on the server: the trials begin
    assert RunnerDriver(page).run() == "complete"
    participant.refresh_from_db()
    assert participant.screening == "passed"
    assert (participant.screening_viewport_width, participant.screening_viewport_height) == (
        1500,
        900,
    )
    assert Response.objects.filter(trial__participant=participant).count() == 4


def test_a_window_still_too_small_after_the_retry_ends_the_session(page, live_server):
    study = make_study(**SMALL, min_viewport_width=1400, comprehension_questions=QUESTIONS)
    participant = start(page, live_server, study, "small")
    page.click("section[data-stage=screen-window] [data-next]")
    assert "window is smaller than this study needs" in stage(page, "screened-out")
    participant.refresh_from_db()
    assert (participant.screening, participant.screening_viewport_width) == ("viewport", 1200)
    assert Participant.objects.get(pk=participant.pk).status == "started"
    assert not Response.objects.exists()
