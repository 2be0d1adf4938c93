"""A report job with a real worker survives one participant's bad stored row (issue 10, point 5).

The row is written as data stored before the API checked times could be: a `responded_at` in
year 1 at +01:00, which PostgreSQL keeps as a year BC and the export writes as a time no ISO 8601
reader parses. The report is made from the other rows and lists the dropped one.
"""

import io

import pandas as pd
import pytest
from django.db import connection
from django.urls import reverse

from studyapp.models import Artifact, Job, Response
from studyapp.payloads import parse_response
from studyapp.selectors.reports import report_member
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.compute_fixtures import wait_for
from tests.factories import answer_for, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUICK_ANALYSIS = {"n_boot": 20, "n_permutations": 50, "n_splits": 5}


def test_a_bad_stored_row_is_dropped_and_listed_not_fatal(worker, media):
    study = make_study(trial_types=["triplet"], trials_per_participant=30, practice_trials=0)
    for p in range(4):
        participant = start_participant(study, f"bad-rows-{p}")
        for trial in participant.trials.order_by("index"):
            body = answer_for(trial, study, choose=(trial.index * (p + 1)) % 3)
            if trial.role == "catch":  # attentive participants: no exclusions
                body["choice"] = trial.correct_item
            response_record(token=participant.token, payload=parse_response(body))
        participant_complete(participant=participant)
    # a main trial no repeat trial points at: dropping an original also drops its repeats
    bad = (
        Response.objects.filter(trial__role="main", trial__repeats__isnull=True)
        .order_by("pk")
        .first()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE studyapp_response SET responded_at = '0001-01-01 00:30:00+01' WHERE id = %s",
            [bad.pk],
        )

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
    assert report.summary["n_dropped_rows"] == 1
    dropped = pd.read_csv(io.BytesIO(report_member(report, "tables/dropped_rows.csv")))
    assert dropped["trial_index"].tolist() == [bad.trial.index]
    assert dropped["reasons"].tolist() == ["responded_at as ISO 8601 times"]
    page = report_member(report, "index.html").decode()
    assert "Export rows dropped on reading" in page
    # the report job passes the study's title and its dashboard's address to the report
    assert f"<h1>Similarity report: {study.title}</h1>" in page
    assert f'href="{reverse("research-study", args=[study.slug])}"' in page
    assert "No models were compared" in page  # the summary still opens the report
