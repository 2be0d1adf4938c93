"""The standard pipeline end to end with a real worker: jobs in dependency order, a report."""

import zipfile

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from studyapp.models import Artifact, AuditEvent, Job, Study, StudyMembership
from studyapp.payloads import parse_response
from studyapp.services.attributes import questionnaire_submit
from studyapp.services.job_graph import pipeline_launch
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.compute_fixtures import small_model, wait_for
from tests.factories import make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUICK_ANALYSIS = {"n_boot": 50, "n_permutations": 200, "n_splits": 10}
GROUPS = {"participant_groups": ["handedness"], "stimulus_groups": ["gender"]}
QUICK_STEPS = {
    "masking": {"fractions": [0.1, 0.5], "fill": "zeros"},
    "decision": {"fractions": [0.1, 0.5], "fill": "zeros"},
    "report": {**QUICK_ANALYSIS, **GROUPS},
}


def answer_by_identity(trial, labels: dict[int, str]) -> dict:
    """Odd one out: the face whose identity differs from the others (else the first)."""
    body = {"trial": trial.index, "rt_ms": 900.0}
    if trial.trial_type != "triplet":
        raise ValueError("triplets only")
    identities = [labels[i] for i in trial.items]
    odd = next(
        (
            i
            for i, ident in zip(trial.items, identities, strict=True)
            if identities.count(ident) == 1
        ),
        trial.items[0],
    )
    if trial.role == "catch":
        odd = trial.correct_item
    body["choice"] = odd
    return body


def simulate_participants(study: Study, n: int) -> None:
    """``n`` participants answering by identity; their questionnaire says left- or right-handed
    in turn."""
    labels = {s.pk: s.labels["identity"] for s in study.stimulus_set.stimuli.all()}
    for p in range(n):
        participant = start_participant(study, f"sim-{p}")
        hand = "left" if p % 2 else "right"
        questionnaire_submit(participant=participant, answers={"handedness": hand})
        for trial in participant.trials.order_by("index"):
            response_record(
                token=participant.token, payload=parse_response(answer_by_identity(trial, labels))
            )
        participant_complete(participant=participant)


def test_pipeline_runs_every_step_and_writes_the_report(worker, faces, django_user_model, client):
    owner = django_user_model.objects.create_user("pi", password="pw")
    study = make_study(faces, trial_types=["triplet"], trials_per_participant=40, practice_trials=0)
    StudyMembership.objects.create(study=study, user=owner, role="owner")
    models = [small_model("pipe a", seed=0), small_model("pipe b", seed=1)]
    study.face_models.set(models)
    simulate_participants(study, 6)

    jobs = pipeline_launch(
        study=study,
        user=owner,
        step_params=QUICK_STEPS,
    )
    assert jobs["report"].status == Job.Status.QUEUED
    report = wait_for(jobs["report"], timeout=300)
    for name, job in jobs.items():
        job.refresh_from_db()
        assert job.status == "succeeded", (name, job.error)
    # Dependencies held: the report started after every other step had finished.
    assert report.started_at >= max(
        jobs[n].finished_at for n in ("embeddings", "masking", "decision")
    )
    assert jobs["masking"].started_at >= jobs["relevance"].finished_at

    artifact = Artifact.objects.get(kind="report", job=report)
    assert artifact.params["responses_sha256"]
    assert artifact.params["attributes_sha256"]
    assert artifact.summary["n_participants_analysed"] == 6
    assert artifact.summary["n_stimuli"] == 24
    with (
        default_storage.open(artifact.file.name, "rb") as handle,
        zipfile.ZipFile(handle) as zipped,
    ):
        names = set(zipped.namelist())
        part_mass = pd.read_csv(zipped.open("tables/part_mass.csv"))
        summary = pd.read_csv(zipped.open("tables/model_summary.csv"))
        groups = pd.read_csv(zipped.open("tables/participant_group_reliability.csv"))
        differences = pd.read_csv(zipped.open("tables/participant_group_differences.csv"))
        contrast = pd.read_csv(zipped.open("tables/stimulus_group_contrast.csv"))
        claims = pd.read_csv(zipped.open("tables/replication_claims.csv"))
        html = zipped.read("index.html").decode()
    # the questionnaire's attribute groups the participants, the set's label the faces
    sizes = dict(zip(groups["group"], groups["n_participants"], strict=True))
    assert sizes == {"left": 3, "right": 3}
    assert set(differences["model"].map(lambda m: m.split("/")[0])) == {m.name for m in models}
    assert set(contrast["attribute"]) == {"gender"}
    assert "Participant groups" in html
    assert "Bias across stimulus groups" in html
    assert {"index.html", "report.pdf", "results.json", "matrices.npz", "triplets.csv"} <= names
    assert {"figures/part_mass.png", "figures/relevance_overlays.png"} <= names
    # relevance per face part, for every model, on the generated faces' exact part masks
    assert set(part_mass["model"]) == {m.name for m in study.face_models.all()}
    assert {"skin", "left_eye", "mouth"} <= set(part_mass["part"])
    shares = part_mass.groupby(["model", "image"])["relevance_share"].sum()
    assert np.allclose(shares, 1.0)
    # the replication section: one row per claim, judged from the stored per-image outcomes
    assert "Replication of Crawford et al. (2020)" in html
    assert len(claims) == 8
    assert set(claims["verdict"]) <= {"supported", "not supported", "inconclusive"}
    accuracy = claims.set_index("claim").loc["Classification accuracy is comparable across models"]
    assert np.isfinite(accuracy["estimate"])  # per-image unmasked correctness was stored
    assert "figures/replication_matrix.png" in names
    assert set(summary["model"].str.split("/").str[0]) == {m.name for m in models}
    assert summary["sentence"].str.contains(" = ").all()

    client.force_login(owner)
    dashboard = client.get(reverse("research-study", args=[study.slug]))
    assert dashboard.context["report"] == artifact
    assert dashboard.context["report_figures"]
    previews = dashboard.context["relevance"]
    assert [artifact.face_model for artifact, _ in previews] == models
    overlay = client.get(
        reverse("research-relevance-overlay", args=[previews[0][0].pk, previews[0][1][0]])
    )
    assert overlay["Content-Type"] == "image/png"
    page = client.get(reverse("research-report", args=[study.slug]))
    assert page.status_code == 200
    assert b"<html" in page.content.lower()
    pdf = client.get(reverse("research-report-file", args=[study.slug, "report.pdf"]))
    assert pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="export", detail__export="report/report.pdf").exists()
    assert AuditEvent.objects.filter(action="pipeline", study=study).count() == 1

    # Launching again reuses every model artifact and only writes a new report if data changed.
    again = pipeline_launch(
        study=study,
        user=owner,
        step_params=QUICK_STEPS,
    )
    assert wait_for(again["report"], timeout=300).status == "succeeded"
    for name, job in again.items():
        job.refresh_from_db()
        assert "reused" in job.note, (name, job.note)
    assert Artifact.objects.filter(kind="report").count() == 1


def test_a_report_grouping_by_an_attribute_nobody_has_fails_naming_it(worker, media):
    study = make_study(trial_types=["triplet"], trials_per_participant=20, practice_trials=0)
    simulate_participants(study, 2)
    job = job_launch(
        kind=Job.Kind.REPORT,
        stimulus_set=study.stimulus_set,
        face_models=[],
        params={**QUICK_ANALYSIS, "participant_groups": ["Sex"]},
        study=study,
    )
    job = wait_for(job, timeout=300)
    assert job.status == Job.Status.FAILED
    assert "No participant has the attributes ['Sex']" in job.error
    assert "['handedness']" in job.error


def test_a_failed_step_fails_the_steps_after_it(worker, faces, django_user_model):
    owner = django_user_model.objects.create_user("pi2", password="pw")
    study = make_study(faces, trial_types=["triplet"])
    StudyMembership.objects.create(study=study, user=owner, role="owner")
    model = small_model("pipe broken")
    model.spec = {**model.spec, "weights_path": "/nonexistent.pt", "weights_format": "torchvision"}
    model.weights_path = "/nonexistent.pt"
    model.save()
    study.face_models.set([model])
    jobs = pipeline_launch(study=study, user=owner)
    report = wait_for(jobs["report"], timeout=120)
    assert report.status == "failed"
    assert "depends on did not succeed" in report.error
    # the report fails with the first failed dependency; a sibling may still be finishing
    assert wait_for(jobs["relevance"], timeout=120).status == "failed"
