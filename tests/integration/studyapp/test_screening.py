"""Screening on the server: window, device and comprehension check; refusals of the
participant API; the target, the coverage and the Latin square count kept participants only."""

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from studyapp.forms import StudyForm
from studyapp.models import AuditEvent, Participant, Response, Trial
from studyapp.planning import block_orders
from studyapp.selectors.coverage import study_coverage
from studyapp.selectors.studies import study_summary
from studyapp.services.participants import StudyUnavailable, study_is_full
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {
        "question": "Which face do you choose?",
        "options": ["The most similar", "The odd one"],
        "answer": 1,
    },
    {"question": "Are practice trials counted?", "options": ["Yes", "No"], "answer": 1},
]
RIGHT, WRONG = [1, 1], [0, 1]
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
)
SCREENED = {
    "min_viewport_width": 1000,
    "min_viewport_height": 600,
    "device_requirement": "desktop",
    "comprehension_questions": QUESTIONS,
    "comprehension_attempts": 2,
}


def post(name, participant, body, user_agent=DESKTOP_UA):
    return Client(HTTP_USER_AGENT=user_agent).post(
        reverse(name, args=[participant.token]), json.dumps(body), content_type="application/json"
    )


def check_setup(participant, width=1280, height=800, **kwargs):
    return post(
        "api-screening", participant, {"viewport": {"width": width, "height": height}}, **kwargs
    )


def screen_in(participant):
    assert check_setup(participant).json()["screening"] == "pending"
    assert (
        post("api-comprehension", participant, {"answers": RIGHT}).json()["screening"] == "passed"
    )


def screen_out(participant):
    assert check_setup(participant, width=640).json()["screening"] == "viewport"


def first_answer(participant, study):
    trial = participant.trials.order_by("index").first()
    return post("api-responses", participant, answer_for(trial, study))


def test_a_study_without_requirements_screens_no_one():
    study = make_study()
    participant = start_participant(study)
    assert participant.screening == "none"
    assert first_answer(participant, study).status_code == 201


def test_answers_before_the_screening_are_refused_with_409():
    study = make_study(**SCREENED)
    participant = start_participant(study)
    assert participant.screening == "pending"
    response = first_answer(participant, study)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "screening_required"
    check_setup(participant)  # the window passed, the comprehension check not yet
    assert first_answer(participant, study).status_code == 409
    assert not Response.objects.exists()


def test_a_passed_screening_records_the_window_and_lets_answers_in():
    study = make_study(**SCREENED)
    participant = start_participant(study)
    screen_in(participant)
    participant.refresh_from_db()
    assert (participant.screening, participant.screening_viewport_width) == ("passed", 1280)
    assert participant.screening_viewport_height == 800
    assert first_answer(participant, study).status_code == 201


@pytest.mark.parametrize(
    ("viewport", "user_agent", "body", "reason"),
    [
        ((999, 800), DESKTOP_UA, {}, "viewport"),
        ((1280, 599), DESKTOP_UA, {}, "viewport"),
        ((1280, 800), PHONE_UA, {}, "device"),
        ((1280, 800), DESKTOP_UA, {"touch_only": True}, "device"),
    ],
)
def test_a_small_window_or_a_phone_is_screened_out_and_then_refused_with_403(
    viewport, user_agent, body, reason
):
    study = make_study(**SCREENED)
    participant = start_participant(study)
    width, height = viewport
    body = {"viewport": {"width": width, "height": height}, **body}
    checked = post("api-screening", participant, body, user_agent=user_agent)
    assert checked.status_code == 200
    assert checked.json()["screening"] == reason
    participant.refresh_from_db()
    assert (participant.screening, participant.screening_viewport_width) == (reason, width)

    refused = first_answer(participant, study)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "screened_out"
    for name, body in [("api-comprehension", {"answers": RIGHT}), ("api-complete", {})]:
        again = post(name, participant, body)
        assert (again.status_code, again.json()["error"]["code"]) == (403, "screened_out")
    assert not Response.objects.exists()


def test_any_device_is_allowed_unless_the_study_wants_a_desktop():
    study = make_study(min_viewport_width=300)
    participant = start_participant(study)
    assert check_setup(participant, width=400, user_agent=PHONE_UA).json()["screening"] == "passed"


def test_the_comprehension_check_allows_the_configured_attempts():
    study = make_study(comprehension_questions=QUESTIONS, comprehension_attempts=3)
    participant = start_participant(study)
    plan = Client().get(reverse("api-plan", args=[participant.token])).json()
    assert plan["screening"]["questions"] == [
        {"question": q["question"], "options": q["options"]} for q in QUESTIONS
    ]  # never the answers
    for left in (2, 1):
        body = post("api-comprehension", participant, {"answers": WRONG}).json()
        assert body == {"screening": "pending", "correct": False, "attempts_left": left}
    body = post("api-comprehension", participant, {"answers": RIGHT}).json()
    assert body == {"screening": "passed", "correct": True, "attempts_left": 1}


def test_failing_every_attempt_ends_the_session_without_a_code():
    study = make_study(comprehension_questions=QUESTIONS, comprehension_attempts=2)
    participant = start_participant(study)
    post("api-comprehension", participant, {"answers": WRONG})
    last = post("api-comprehension", participant, {"answers": WRONG}).json()
    assert last == {"screening": "comprehension", "correct": False, "attempts_left": 0}
    refused = post("api-complete", participant, {})
    assert refused.status_code == 403
    assert "completion_code" not in refused.json()
    assert study_summary(study=study)["screened_comprehension"] == 1


def test_the_window_is_checked_before_the_comprehension_check():
    study = make_study(**SCREENED)
    participant = start_participant(study)
    response = post("api-comprehension", participant, {"answers": RIGHT})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "setup_first")


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("api-comprehension", {"answers": [1]}, 422, "invalid_answers"),
        ("api-comprehension", {"answers": [1, 5]}, 422, "invalid_answers"),
        ("api-comprehension", {"answers": [True, 1]}, 422, "invalid_answers"),
        ("api-comprehension", {}, 422, "invalid_answers"),
        ("api-screening", {"viewport": {"width": "wide", "height": 800}}, 400, "invalid_viewport"),
        ("api-screening", {}, 400, "invalid_viewport"),
        (
            "api-screening",
            {"viewport": {"width": 900, "height": 800}, "touch_only": "yes"},
            400,
            "invalid_type",
        ),
    ],
)
def test_bad_screening_bodies_get_a_clear_4xx(name, body, status, code):
    study = make_study(comprehension_questions=QUESTIONS)
    participant = start_participant(study)
    response = post(name, participant, body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    participant.refresh_from_db()
    assert (participant.screening, participant.comprehension_failures) == ("pending", 0)


def test_the_target_counts_kept_participants_only():
    study = make_study(**SCREENED, target_participants=2)
    screened_out = [start_participant(study) for _ in range(2)]
    for participant in screened_out:
        screen_out(participant)
    assert not study_is_full(study=study)
    kept = start_participant(study)
    screen_in(kept)
    excluded = start_participant(study)
    Participant.objects.filter(pk=excluded.pk).update(excluded=True)
    assert not study_is_full(study=study)
    start_participant(study)  # pending: holds its place while it is being screened
    assert study_is_full(study=study)
    with pytest.raises(StudyUnavailable, match="full"):
        start_participant(study)
    summary = study_summary(study=study)
    assert (summary["started"], summary["screened_out"], summary["screened_viewport"]) == (5, 2, 2)
    assert summary["in_progress"] == 3


def test_the_latin_square_and_the_coverage_ignore_screened_out_sessions():
    types = ["triplet", "afc", "rating"]
    study = make_study(**SCREENED, trial_types=types, trials_per_participant=6)
    rows = block_orders(len(types))
    first = [start_participant(study) for _ in rows]
    assert sorted(p.block_order for p in first) == list(range(len(rows)))
    for participant in first[:3]:
        screen_out(participant)
    freed = sorted(p.block_order for p in first[:3])
    later = [start_participant(study) for _ in freed]
    assert sorted(p.block_order for p in later) == freed
    kept = [*first[3:], *later]
    assert np.bincount([p.block_order for p in kept], minlength=len(rows)).tolist() == [1] * 6

    ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    coverage = study_coverage(study=study, position_of={pk: i for i, pk in enumerate(ids)})
    shown = sum(int(c.positions.sum()) for c in coverage.values())
    kept_trials = Trial.objects.filter(participant__in=kept, role="main")
    assert shown == sum(len(t.items) for t in kept_trials)


def test_the_study_form_validates_the_comprehension_questions():
    study = make_study()
    data = {
        field: json.dumps(value) if field in ("analysis_settings", "timing") else value
        for field, value in StudyForm(instance=study).initial.items()
    }
    bad = [{"question": "Pick", "options": ["a", "b"], "answer": 2}]
    form = StudyForm(
        data={**data, "face_models": [], "comprehension_questions": json.dumps(bad)}, instance=study
    )
    assert not form.is_valid()
    assert form.errors["comprehension_questions"] == [
        "Question 1: 'answer' must be the index of an option, 0 to 1; got 2."
    ]
    good = {**data, "face_models": [], "comprehension_questions": json.dumps(QUESTIONS)}
    form = StudyForm(data=good, instance=study)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["comprehension_questions"] == QUESTIONS


def test_the_participants_export_has_the_screening_outcome(staff_client):
    study = make_study(**SCREENED)
    kept, small, phone = (start_participant(study) for _ in range(3))
    screen_in(kept)
    screen_out(small)
    check_setup(phone, user_agent=PHONE_UA)
    Participant.objects.filter(pk=kept.pk).update(
        excluded=True, exclusion_reason="=1+1", refused_responses=3
    )
    response = staff_client.get(reverse("research-participants-csv", args=[study.slug]))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_pseudonym = {row["participant"]: row for row in rows}
    assert [by_pseudonym[p.pseudonym]["screening"] for p in (kept, small, phone)] == [
        "passed",
        "viewport",
        "device",
    ]
    row = by_pseudonym[small.pseudonym]
    assert (row["screening_viewport_width"], row["screening_viewport_height"]) == ("640", "800")
    assert (row["participant_status"], row["responses"], row["completed_at"]) == (
        "started",
        "0",
        "",
    )
    assert by_pseudonym[kept.pseudonym]["participant_status"] == "excluded"
    assert by_pseudonym[kept.pseudonym]["exclusion_reason"] == "'=1+1"  # no formula
    assert [by_pseudonym[p.pseudonym]["refused_responses"] for p in (kept, small)] == ["3", "0"]
    assert AuditEvent.objects.filter(action="export", detail__export="participants.csv").exists()
    page = staff_client.get(reverse("research-study", args=[study.slug])).content.decode()
    assert 'data-stat="screened_out">2<' in page


def test_the_report_states_the_study_screening_and_is_remade_when_it_changes():
    from tasks.computations.report import report_inputs, screening_rules

    study = make_study(**SCREENED)
    screen_in(start_participant(study))
    job = SimpleNamespace(study=study, params={})
    artifacts = {"similarity": {}, "masked": {}, "relevance": {}, "dissection": {}, "masking": None}
    before = report_inputs(job, b"csv", artifacts)
    screen_out(start_participant(study))
    rules = screening_rules(study)
    assert (rules.min_width, rules.min_height, rules.desktop_only) == (1000, 600, True)
    assert (rules.questions, rules.attempts) == (2, 2)
    assert rules.screened_out == {"viewport": 1, "device": 0, "comprehension": 0}
    after = report_inputs(job, b"csv", artifacts)
    assert before["screening"]["screened_out"]["viewport"] == 0
    assert after["screening"]["screened_out"]["viewport"] == 1
