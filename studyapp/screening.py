"""A study's screening rules: the comprehension questions, the window and the device.

``Study.comprehension_questions`` is a JSON list of
``{"question": str, "options": [str, ...], "answer": int}`` (``answer``: the 0-based index of
the right option). The participant's browser sees the questions without their answers.
"""

import re

MAX_QUESTIONS = 10
MAX_OPTIONS = 6
MAX_TEXT = 500
QUESTION_KEYS = {"question", "options", "answer"}
# Phones and tablets, as their browsers name themselves (iPadOS asks for the desktop page and
# is caught by the runner's touch report instead).
MOBILE_USER_AGENT = re.compile(r"Mobi|Android|iPhone|iPad|iPod|Tablet|Kindle|Silk", re.I)


def comprehension_problems(questions: object) -> list[str]:
    """What is wrong with ``questions`` (empty: all is well); messages name the bad value."""
    if not isinstance(questions, list):
        return [f"The comprehension questions must be a JSON list; got {questions!r}."]
    if len(questions) > MAX_QUESTIONS:
        return [f"At most {MAX_QUESTIONS} comprehension questions; got {len(questions)}."]
    problems = []
    for number, entry in enumerate(questions, 1):
        where = f"Question {number}"
        if not isinstance(entry, dict) or set(entry) != QUESTION_KEYS:
            problems.append(
                f"{where} must be an object with exactly the keys question, options and answer; "
                f"got {entry!r}."
            )
            continue
        question, options, answer = entry["question"], entry["options"], entry["answer"]
        if not isinstance(question, str) or not 0 < len(question.strip()) <= MAX_TEXT:
            problems.append(f"{where}: 'question' must be a text of 1 to {MAX_TEXT} characters.")
        if (
            not isinstance(options, list)
            or not 2 <= len(options) <= MAX_OPTIONS
            or not all(isinstance(o, str) and 0 < len(o.strip()) <= MAX_TEXT for o in options)
        ):
            problems.append(
                f"{where}: 'options' must be a list of 2 to {MAX_OPTIONS} non-empty texts; "
                f"got {options!r}."
            )
        elif len(set(options)) != len(options):
            problems.append(f"{where}: 'options' must differ from each other; got {options!r}.")
        elif isinstance(answer, bool) or not isinstance(answer, int):
            problems.append(f"{where}: 'answer' must be a whole number; got {answer!r}.")
        elif not 0 <= answer < len(options):
            problems.append(
                f"{where}: 'answer' must be the index of an option, 0 to {len(options) - 1}; "
                f"got {answer}."
            )
    return problems


def public_questions(questions: list[dict]) -> list[dict]:
    """The questions as the participant sees them: no answers."""
    return [{"question": q["question"], "options": q["options"]} for q in questions]


def answers_problem(questions: list[dict], answers: object) -> str | None:
    """Why ``answers`` is not one option index per question (None: it is)."""
    if (
        not isinstance(answers, list)
        or len(answers) != len(questions)
        or not all(isinstance(a, int) and not isinstance(a, bool) for a in answers)
    ):
        return (
            f"'answers' must be a list of {len(questions)} option indices, one per question; "
            f"got {answers!r}."
        )
    for number, (question, answer) in enumerate(zip(questions, answers, strict=True), 1):
        if not 0 <= answer < len(question["options"]):
            return f"Answer {number} must be in [0, {len(question['options']) - 1}]; got {answer}."
    return None


def answers_correct(questions: list[dict], answers: list[int]) -> bool:
    """Whether every question is answered with its right option."""
    return all(q["answer"] == a for q, a in zip(questions, answers, strict=True))


def is_mobile(*, user_agent: str, touch_only: bool) -> bool:
    """A phone or tablet: named so in its user agent, or reporting a touch screen and no mouse."""
    return touch_only or bool(MOBILE_USER_AGENT.search(user_agent))
