"""Compute jobs: launch, cancel, retry, and the state changes the workers report.

Workers run ``tasks.jobs`` (enqueued by task name after the transaction commits, and sent again
when lost: see ``dispatch``). Every transition locks the job or batch row, so a task delivered
twice changes state once.
"""

import socket
import traceback as traceback_module
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from studyapp.job_parameters import job_parameters_check
from studyapp.models import FaceModel, Job, JobBatch, StimulusSet, Study
from studyapp.services.dispatch import (
    BATCH_TASK,
    FINALIZE_TASK,
    PLAN_TASK,
    enqueue,
    message_take,
)
from studyapp.storage import files_delete


def job_launch(
    *,
    kind: str,
    stimulus_set: StimulusSet,
    face_models: list[FaceModel],
    params: dict | None = None,
    study: Study | None = None,
    user=None,
    after: list[Job] = (),
) -> Job:
    """Create a queued job; it goes to the workers now, or when the jobs ``after`` succeed."""
    if kind not in Job.Kind.values:
        raise ValueError(
            f"The 'kind' parameter of job_launch must be one of {Job.Kind.values}; got {kind!r}."
        )
    study_kinds = (Job.Kind.REPORT, Job.Kind.ADAPTIVE)  # work on a study, not on models
    if not face_models and kind not in study_kinds:
        raise ValueError("The 'face_models' parameter of job_launch must name at least one model.")
    if kind in study_kinds and study is None:
        raise ValueError(f"A {kind} job needs its study.")
    job_parameters_check(kind, params or {})
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind, stimulus_set=stimulus_set, study=study, params=params or {}, created_by=user
        )
        job.face_models.set(face_models)
        job.depends_on.set(after)
        _release_if_ready(job)
    return job


def _release_if_ready(job: Job) -> None:
    """Enqueue a queued job whose prerequisites all succeeded; fail it if one did not."""
    statuses = set(job.depends_on.values_list("status", flat=True))
    if job.status != Job.Status.QUEUED:
        return
    if statuses <= {Job.Status.SUCCEEDED}:
        enqueue(PLAN_TASK, job.pk)
    elif statuses & {Job.Status.FAILED, Job.Status.CANCELLED}:
        failed = job.depends_on.filter(status__in=[Job.Status.FAILED, Job.Status.CANCELLED])
        names = ", ".join(f"#{d.pk} {d.kind} ({d.status})" for d in failed)
        _mark_failed(job, f"A job it depends on did not succeed: {names}.", "")


def job_cancel(*, job: Job) -> Job:
    """Stop a job: batches not yet started are skipped, running ones finish and are dropped."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if not job.is_finished:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at"])
            _settle_dependents(job)
    return job


def job_retry(*, job: Job) -> Job:
    """Run a failed or cancelled job again; batches already done are kept."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
            raise ValueError(
                f"Only failed or cancelled jobs can be retried; this one is {job.status}."
            )
        job.batches.exclude(status=JobBatch.Status.DONE).update(
            status=JobBatch.Status.PENDING, error="", attempts=0
        )
        job.status = Job.Status.QUEUED
        job.error = job.traceback = ""
        job.finished_at = None
        job.save(update_fields=["status", "error", "traceback", "finished_at"])
        for prerequisite in job.depends_on.filter(
            status__in=[Job.Status.FAILED, Job.Status.CANCELLED]
        ):
            job_retry(job=prerequisite)
        _release_if_ready(job)
    return job


# --- State changes reported by the workers ------------------------------------------------


def job_take(*, job_id: int, dispatch: int) -> Job | None:
    """The job for its plan or finalize message; None if finished or the message is an old copy."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.is_finished or not message_take(model=Job, pk=job_id, dispatch=dispatch):
            return None
        return job


def job_start(*, job_id: int, batches: list[JobBatch], total: int) -> Job | None:
    """Create the job's batches (once), mark it running and send them; None if it is finished.

    A plan delivered again to a running job sends nothing: lost batch messages are the
    requeue sweep's to send.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.is_finished:
            return None
        if job.status == Job.Status.RUNNING:
            return job
        if not job.batches.exists():
            for batch in batches:
                batch.job = job
            JobBatch.objects.bulk_create(batches)
            job.progress_total = total
        job.status = Job.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.worker_host = socket.gethostname()
        job.save(update_fields=["status", "started_at", "worker_host", "progress_total"])
        for batch_id in job.batches.exclude(status=JobBatch.Status.DONE).values_list(
            "pk", flat=True
        ):
            enqueue(BATCH_TASK, batch_id)
        if not job.batches.exclude(status=JobBatch.Status.DONE).exists():
            enqueue(FINALIZE_TASK, job.pk)
        return job


def batch_claim(*, batch_id: int, dispatch: int) -> JobBatch | None:
    """Mark a batch running for this worker; None if it is done, its job has ended or the
    message is an old copy (a newer one was sent).

    A batch found 'running' is claimed again: its newest message is only delivered twice when
    the worker that had it died. After ``FACESIM_BATCH_MAX_ATTEMPTS`` starts the job fails
    instead, so a batch that kills its worker is not handed out for ever.
    """
    with transaction.atomic():
        batch = JobBatch.objects.select_for_update().select_related("job").get(pk=batch_id)
        if batch.status == JobBatch.Status.DONE or batch.job.is_finished:
            return None
        if not message_take(model=JobBatch, pk=batch_id, dispatch=dispatch):
            return None
        if batch.attempts >= settings.FACESIM_BATCH_MAX_ATTEMPTS:  # it kills or outlives workers
            error = RuntimeError(
                f"Batch {batch.index} was started {batch.attempts} times without finishing (its "
                "worker died or ran out of time each time); retry the job to try again."
            )
            job_fail(job_id=batch.job_id, error=error, batch_id=batch_id)
            return None
        batch.status = JobBatch.Status.RUNNING
        batch.attempts += 1
        batch.worker_host = socket.gethostname()
        batch.started_at = timezone.now()
        batch.save(update_fields=["status", "attempts", "worker_host", "started_at"])
        return batch


def batch_complete(*, batch_id: int, result_name: str, result_sha256: str, failures: list) -> bool:
    """Record a batch's result and the job's progress; True when it was the last batch.

    A result nobody will read is deleted: the batch is gone (its study was deleted or a
    participant erased while it ran, so the file may hold erased rows), the job finished
    (cancelled, failed) or a second delivery finished first (its file is another one).
    """
    with transaction.atomic():
        batch = JobBatch.objects.select_for_update().filter(pk=batch_id).first()
        job = batch and Job.objects.select_for_update().get(pk=batch.job_id)
        if batch is None or batch.status == JobBatch.Status.DONE or job.is_finished:
            if result_name and (batch is None or batch.result.name != result_name):
                transaction.on_commit(partial(files_delete, [result_name]))
            return False
        batch.status = JobBatch.Status.DONE
        batch.result.name = result_name
        batch.result_sha256 = result_sha256
        batch.failures = failures
        batch.finished_at = timezone.now()
        remaining = max(len(batch.stimulus_ids) - batch.items_done, 0)
        batch.items_done += remaining
        batch.save(
            update_fields=[
                *("status", "result", "result_sha256", "failures", "finished_at", "items_done")
            ]
        )
        Job.objects.filter(pk=job.pk).update(
            progress_done=Least(F("progress_done") + remaining, F("progress_total"))
        )
        last = not job.batches.exclude(status=JobBatch.Status.DONE).exists()
        if last:
            enqueue(FINALIZE_TASK, job.pk)
        return last


def batch_progress(*, batch_id: int, done: int) -> None:
    """A running batch has `done` of its items: the job's progress moves by the new ones.

    A batch run again (its worker died) counts only items beyond those counted before, so
    the job's progress never counts an item twice.
    """
    with transaction.atomic():
        batch = JobBatch.objects.select_for_update().filter(pk=batch_id).first()
        new = min(done, len(batch.stimulus_ids)) - batch.items_done if batch else 0
        if new <= 0 or batch.status != JobBatch.Status.RUNNING:
            return
        JobBatch.objects.filter(pk=batch_id).update(items_done=F("items_done") + new)
        Job.objects.filter(pk=batch.job_id, status=Job.Status.RUNNING).update(
            progress_done=Least(F("progress_done") + new, F("progress_total"))
        )


def job_progress(*, job_id: int, done: int) -> None:
    """Progress reported from inside a long task (finetuning: epochs done)."""
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        progress_done=Least(done, F("progress_total"))
    )


def job_fail(*, job_id: int, error: BaseException, batch_id: int | None = None) -> None:
    """Mark the job (and the batch) failed with the error text and traceback."""
    text = f"{type(error).__name__}: {error}"
    trace = "".join(traceback_module.format_exception(error))
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if batch_id is not None:
            JobBatch.objects.filter(pk=batch_id).update(
                status=JobBatch.Status.FAILED, error=text, finished_at=timezone.now()
            )
        if not job.is_finished:
            _mark_failed(job, text, trace)


def _mark_failed(job: Job, text: str, trace: str) -> None:
    job.status = Job.Status.FAILED
    job.error, job.traceback = text, trace
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "traceback", "finished_at"])
    _settle_dependents(job)


def _settle_dependents(job: Job) -> None:
    """After ``job`` finished: start the dependents now ready, fail those that cannot run."""
    for dependent in job.dependents.select_for_update().filter(status=Job.Status.QUEUED):
        _release_if_ready(dependent)


def job_succeed(*, job_id: int, note: str = "") -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.is_finished:
            return
        job.status = Job.Status.SUCCEEDED
        job.note = note
        job.progress_done = job.progress_total
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "note", "progress_done", "finished_at"])
        _settle_dependents(job)
