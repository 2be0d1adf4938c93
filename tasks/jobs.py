"""Celery tasks: thin adapters that move a job through plan → batches → finalize.

Every task takes ids and the number of its message (an old copy is skipped; messages sent
before messages were numbered count as number 0), is safe to deliver twice (state changes lock
rows and check state; artifacts are unique by their inputs), is acknowledged late and rejected
when its worker dies, so the broker delivers it again (see README, "Workers"). While it runs it
holds its row's run mark (``run_marks``), which tells the requeue sweep that a live worker has
it; a copy delivered while another live worker runs the row is skipped.
"""

import functools
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from studyapp.models import JobBatch
from studyapp.services import jobs as job_state
from studyapp.services.run_marks import run_mark
from tasks.computations import computation_for

logger = logging.getLogger(__name__)

# Errors worth retrying with backoff: the database or the broker was briefly unreachable.
TRANSIENT = (OperationalError, InterfaceError, BrokerError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 6,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def while_marked(task_name: str):
    """Run the task holding its row's run mark; skip it when a live worker holds the mark."""

    def decorate(task):
        @functools.wraps(task)
        def marked(object_id: int, dispatch: int = 0) -> None:
            with run_mark(task_name, object_id) as ours:
                if not ours:
                    logger.info("%s(%s) runs on another worker; copy skipped", task_name, object_id)
                    return
                task(object_id, dispatch)

        return marked

    return decorate


@shared_task(name=job_state.PLAN_TASK, **RETRY)
@while_marked(job_state.PLAN_TASK)
def plan_job(job_id: int, dispatch: int = 0) -> None:
    job = job_state.job_take(job_id=job_id, dispatch=dispatch)
    if job is None:
        return
    try:
        plan = computation_for(job.kind).plan(job)
    except TRANSIENT:
        raise
    except Exception as error:  # a bad job (missing weights, missing inputs): fail it, clearly
        logger.exception("Planning job %s failed", job_id)
        job_state.job_fail(job_id=job_id, error=error)
        return
    if plan.reused:
        job_state.job_succeed(job_id=job_id, note=plan.reused)
        return
    batches = [
        JobBatch(index=i, face_model_id=model_id, stimulus_ids=ids)
        for i, (model_id, ids) in enumerate(plan.batches)
    ]
    job_state.job_start(job_id=job_id, batches=batches, total=plan.total)


@shared_task(name=job_state.BATCH_TASK, **RETRY)
@while_marked(job_state.BATCH_TASK)
def run_batch(batch_id: int, dispatch: int = 0) -> None:
    batch = job_state.batch_claim(batch_id=batch_id, dispatch=dispatch)
    if batch is None:
        return
    try:
        output = computation_for(batch.job.kind).run_batch(batch.job, batch)
    except TRANSIENT:
        raise
    except Exception as error:
        logger.exception("Batch %s of job %s failed", batch_id, batch.job_id)
        job_state.job_fail(job_id=batch.job_id, error=error, batch_id=batch_id)
        return
    job_state.batch_complete(
        batch_id=batch_id,
        result_name=output.file_name,
        result_sha256=output.sha256,
        failures=output.failures,
    )


@shared_task(name=job_state.FINALIZE_TASK, **RETRY)
@while_marked(job_state.FINALIZE_TASK)
def finalize_job(job_id: int, dispatch: int = 0) -> None:
    job = job_state.job_take(job_id=job_id, dispatch=dispatch)
    if job is None:
        return
    if job.batches.exclude(status=JobBatch.Status.DONE).exists():
        return  # a late duplicate; the last batch enqueues finalize again
    try:
        note = computation_for(job.kind).finalize(job)
    except TRANSIENT:
        raise
    except Exception as error:
        logger.exception("Finalising job %s failed", job_id)
        job_state.job_fail(job_id=job_id, error=error)
        return
    job_state.job_succeed(job_id=job_id, note=note)
