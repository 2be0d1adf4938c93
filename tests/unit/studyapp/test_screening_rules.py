"""The comprehension questions a study may define, and the device rule (no database)."""

import pytest

from studyapp.screening import answers_correct, answers_problem, comprehension_problems, is_mobile

GOOD = [{"question": "Pick the odd one?", "options": ["Yes", "No"], "answer": 0}]


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ({"question": "x"}, "must be a JSON list"),
        ([GOOD[0]] * 11, "At most 10 comprehension questions; got 11."),
        (
            [{"question": "x", "options": ["a", "b"]}],
            "exactly the keys question, options and answer",
        ),
        ([{**GOOD[0], "question": "  "}], "'question' must be a text of 1 to 500 characters"),
        ([{**GOOD[0], "options": ["only"]}], "'options' must be a list of 2 to 6 non-empty texts"),
        ([{**GOOD[0], "options": ["a", "a"]}], "'options' must differ from each other"),
        ([{**GOOD[0], "answer": True}], "'answer' must be a whole number; got True."),
        ([{**GOOD[0], "answer": -1}], "'answer' must be the index of an option, 0 to 1; got -1."),
    ],
)
def test_bad_questions_are_named(questions, message):
    problems = comprehension_problems(questions)
    assert len(problems) == 1
    assert message in problems[0]


def test_good_questions_pass_and_are_marked():
    assert comprehension_problems(GOOD) == []
    assert comprehension_problems([]) == []
    assert answers_problem(GOOD, [1]) is None
    assert answers_correct(GOOD, [0])
    assert not answers_correct(GOOD, [1])
    assert "must be in [0, 1]; got 2" in answers_problem(GOOD, [2])


@pytest.mark.parametrize(
    ("user_agent", "touch_only", "mobile"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36", False, False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", False, True),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) Chrome/120.0 Safari/537.36", False, True),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15", True, True),  # iPad
    ],
)
def test_phones_and_tablets_are_recognised(user_agent, touch_only, mobile):
    assert is_mobile(user_agent=user_agent, touch_only=touch_only) is mobile
