"""Results nobody will read are not left behind: a batch that finishes after its job was
deleted (study deleted, participant erased) or cancelled deletes its file, and deleting a
participant in the admin is the audited erasure (the study's reports go too)."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from studyapp.models import Artifact, AuditEvent, Job, JobBatch, Participant
from studyapp.payloads import parse_response
from studyapp.services.jobs import batch_complete
from studyapp.services.responses import response_record
from studyapp.storage import store_file
from tests.factories import answer_for, make_report_artifact, make_study, start_participant

pytestmark = pytest.mark.django_db


def running_report_batch(study) -> JobBatch:
    job = Job.objects.create(
        kind=Job.Kind.REPORT, stimulus_set=study.stimulus_set, study=study, status="running"
    )
    return JobBatch.objects.create(job=job, index=0, stimulus_ids=[], status="running")


def finish(batch_id: int, name: str, capture) -> bool:
    with capture(execute=True):
        return batch_complete(batch_id=batch_id, result_name=name, result_sha256="x", failures=[])


@pytest.mark.parametrize("fate", ["deleted", "cancelled"])
def test_a_result_whose_job_is_gone_or_finished_is_deleted(
    fate, django_capture_on_commit_callbacks
):
    batch = running_report_batch(make_study())
    name, _ = store_file(f"jobs/{batch.job_id}/batch-00000-attempt-1.zip", b"rows of a person")
    if fate == "deleted":
        batch.job.delete()  # what study deletion and erasure do to a report job
    else:
        Job.objects.filter(pk=batch.job_id).update(status="cancelled")
    assert finish(batch.pk, name, django_capture_on_commit_callbacks) is False
    assert not default_storage.exists(name)


def test_a_second_delivery_deletes_only_its_own_file(django_capture_on_commit_callbacks):
    batch = running_report_batch(make_study())
    first, _ = store_file(f"jobs/{batch.job_id}/batch.zip", b"first")
    second, _ = store_file(f"jobs/{batch.job_id}/batch.zip", b"second")
    assert first != second
    assert finish(batch.pk, first, django_capture_on_commit_callbacks) is True
    assert finish(batch.pk, second, django_capture_on_commit_callbacks) is False
    assert default_storage.exists(first)
    assert not default_storage.exists(second)
    batch.refresh_from_db()
    assert batch.result.name == first


@pytest.mark.parametrize("how", ["change form", "bulk action"])
def test_deleting_a_participant_in_the_admin_is_the_audited_erasure(
    how, staff_client, django_capture_on_commit_callbacks
):
    study = make_study()
    participant = start_participant(study, "admin-erase")
    for trial in participant.trials.all()[:2]:
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    report = make_report_artifact(study)
    trials = participant.trials.count()
    with django_capture_on_commit_callbacks(execute=True):
        if how == "change form":
            url = reverse("admin:studyapp_participant_delete", args=[participant.pk])
            response = staff_client.post(url, {"post": "yes"})
        else:
            url = reverse("admin:studyapp_participant_changelist")
            response = staff_client.post(
                url,
                {"action": "delete_selected", "_selected_action": [participant.pk], "post": "yes"},
            )
    assert response.status_code == 302
    assert not Participant.objects.filter(pk=participant.pk).exists()
    assert not Artifact.objects.filter(pk=report.pk).exists()
    assert not default_storage.exists(report.file.name)
    event = AuditEvent.objects.get(action="data_deletion")
    # counts only
    assert event.detail == {"trials": trials, "responses": 2, "attributes": 0, "reports": 1}
    assert event.user.username == "staff"
