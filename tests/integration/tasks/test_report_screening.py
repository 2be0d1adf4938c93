"""A report job with a real worker states the study's screening in its methods text."""

import pytest

from studyapp.models import Artifact, Job
from studyapp.payloads import parse_response
from studyapp.selectors.reports import report_member
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from studyapp.services.screening import screening_answer_comprehension, screening_check_setup
from tests.compute_fixtures import wait_for
from tests.factories import answer_for, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUESTIONS = [{"question": "Which face?", "options": ["Similar", "Odd one"], "answer": 1}]


def check_window(participant, width):
    return screening_check_setup(
        participant=participant, width=width, height=800, user_agent="", touch_only=False
    )


def test_the_report_methods_state_the_screening(worker, media):
    study = make_study(
        trial_types=["triplet"],
        trials_per_participant=30,
        practice_trials=0,
        min_viewport_width=1000,
        comprehension_questions=QUESTIONS,
    )
    for p in range(4):
        participant = start_participant(study, f"screened-in-{p}")
        check_window(participant, 1280)
        screening_answer_comprehension(participant=participant, answers=[1])
        for trial in participant.trials.order_by("index"):
            body = answer_for(trial, study, choose=(trial.index * (p + 1)) % 3)
            if trial.role == "catch":
                body["choice"] = trial.correct_item
            response_record(token=participant.token, payload=parse_response(body))
        participant_complete(participant=participant)
    check_window(start_participant(study, "small-window"), 800)

    job = job_launch(
        kind=Job.Kind.REPORT,
        stimulus_set=study.stimulus_set,
        face_models=[],
        params={"n_boot": 20, "n_permutations": 50, "n_splits": 5},
        study=study,
    )
    job = wait_for(job, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error
    html = report_member(Artifact.objects.get(kind=Artifact.Kind.REPORT, job=job), "index.html")
    assert b"a browser window at least 1000 CSS pixels wide" in html
    assert b"1 session was ended by the screening (window too small: 1," in html
