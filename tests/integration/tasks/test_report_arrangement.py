"""A report job with a real worker on a multi-arrangement study: the matrices come from inverse
MDS of the stored arrangements, with reliability, ceilings and the rsatoolbox files."""

import pickle

import pytest

from studyapp.models import Artifact, Job, Trial
from studyapp.payloads import parse_response
from studyapp.selectors.reports import report_member
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.compute_fixtures import wait_for
from tests.factories import answer_for, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUICK_ANALYSIS = {"n_boot": 20, "n_permutations": 50, "n_splits": 5}


def test_a_report_on_an_arrangement_study(worker, media):
    study = make_study(
        trial_types=["arrangement"],
        arrangement={"subset_size": 5},
        trials_per_participant=4,
        practice_trials=1,
    )
    for p in range(4):
        participant = start_participant(study, f"arrangement-report-{p}")
        for index in range(5):  # each later trial's faces are chosen when the one before is in
            trial = Trial.objects.get(participant=participant, index=index)
            response_record(
                token=participant.token, payload=parse_response(answer_for(trial, study))
            )
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
    assert report.summary["trial_type"] == "arrangement"
    page = report_member(report, "index.html").decode()
    assert "per-participant inverse MDS of arrangements" in page
    per = pickle.loads(report_member(report, "participant_rdms_rsatoolbox.pkl"))
    assert per["dissimilarities"].shape == (4, 12 * 11 // 2)
    # every participant put each face at the same spot (answer_for), so every subset repeats
    # the first arrangement's distances: the participants' matrices agree perfectly
    assert report.summary["split_half"]["reliability_mean"] > 0.99
    lower = {row["method"]: row["lower"] for row in report.summary["noise_ceilings"]}
    assert lower["spearman"] > 0.99
