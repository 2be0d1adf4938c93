"""A report job with a real worker on a study with triplet and Bubbles trials: the similarity
analysis is the triplets', and the report adds the Bubbles classification images per group."""

import io
import math

import pandas as pd
import pytest

from studyapp.models import Artifact, Job
from studyapp.payloads import parse_response
from studyapp.selectors.reports import report_member
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.compute_fixtures import wait_for
from tests.factories import answer_for, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUICK_ANALYSIS = {"n_boot": 20, "n_permutations": 50, "n_splits": 5}
BUBBLES = {"label": "gender", "sigma": 3, "start": 20}


def answer(trial, study):
    if trial.trial_type != "bubbles":
        body = answer_for(trial, study, choose=trial.index % 3)
        return {**body, "choice": trial.correct_item} if trial.role == "catch" else body
    bubbles = {"seed": trial.bubbles_seed, "count": 20, "level": math.log(20)}
    return {"trial": trial.index, "rt_ms": 900.0, "choice": trial.index % 2, "bubbles": bubbles}


def test_a_report_on_triplets_and_bubbles_has_the_decision_weighting_section(worker, media):
    study = make_study(
        trial_types=["triplet", "bubbles"], bubbles=BUBBLES, trials_per_participant=40
    )
    for p in range(4):
        participant = start_participant(study, f"bubbles-report-{p}")
        for trial in participant.trials.order_by("index"):
            payload = parse_response(answer(trial, study))
            response_record(token=participant.token, payload=payload)
        participant_complete(participant=participant)

    job = job_launch(
        kind=Job.Kind.REPORT,
        stimulus_set=study.stimulus_set,
        face_models=[],
        params=QUICK_ANALYSIS,
        study=study,
    )
    job = wait_for(job, timeout=300)

    assert job.status == Job.Status.SUCCEEDED, job.error
    report = Artifact.objects.get(kind=Artifact.Kind.REPORT, job=job)
    assert report.summary["trial_type"] == "triplet"
    page = report_member(report, "index.html").decode()
    assert "<h2>Decision weighting: humans vs models</h2>" in page
    regions = pd.read_csv(io.BytesIO(report_member(report, "tables/bubbles_regions.csv")))
    assert sorted(set(regions["group"])) == ["female", "male"]
    assert set(regions["participants"]) == {4}
    assert report_member(report, "figures/bubbles_classification_images.png")
