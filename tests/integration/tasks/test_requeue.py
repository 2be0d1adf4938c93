"""The requeue sweep sends again exactly the messages that are lost, and workers skip old copies
(the broker-outage and worker-fault tests run the whole thing with a real broker and worker)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from studyapp.models import Job, JobBatch
from studyapp.services.dispatch import BATCH_TASK, FINALIZE_TASK, PLAN_TASK, jobs_requeue
from studyapp.services.jobs import batch_claim, job_retry
from studyapp.services.run_marks import run_mark
from tests.factories import make_stimulus_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def stimulus_set():
    return make_stimulus_set(n=3)


@pytest.fixture(autouse=True)
def delays(settings):
    settings.FACESIM_REQUEUE_AFTER_S = 60


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def message(state: str, age_s: float, dispatch: int = 1) -> dict:
    return {"dispatch": dispatch, "dispatch_state": state, "dispatch_at": ago(age_s)}


def test_the_sweep_sends_again_only_what_is_lost(stimulus_set):
    def job(**fields) -> Job:
        return Job.objects.create(kind="relevance", stimulus_set=stimulus_set, **fields)

    def batch(of: Job, index: int, **fields) -> JobBatch:
        return JobBatch.objects.create(job=of, index=index, stimulus_ids=[1], **fields)

    send_failed = job(**message("requested", 61))
    send_failed_just_now = job(**message("requested", 5))
    blocked = job()  # waits for a prerequisite: no message owed
    blocked.depends_on.add(send_failed_just_now)
    in_queue = job(**message("sent", 61))
    finishing = job(status="running", **message("sent", 61))  # all batches done: finalize owed
    batch(finishing, 0, status="done", result="jobs/x.npz")
    running = job(status="running", **message("taken", 900))
    taken_by_a_live_worker = batch(running, 0, status="running", **message("taken", 5000))
    taken_by_a_dead_worker = batch(running, 1, status="running", **message("taken", 61))
    batch(running, 4, status="running", **message("taken", 5))  # in a retry's short countdown
    batch_in_queue = batch(running, 2, **message("sent", 61))
    batch(running, 3, status="done", result="jobs/y.npz")
    job(status="succeeded", **message("requested", 999))
    job(status="cancelled", **message("sent", 999))

    with run_mark(BATCH_TASK, taken_by_a_live_worker.pk):  # a live worker runs it
        # the queues hold as many messages as are waiting in them: failed sends and dead workers
        assert set(jobs_requeue(sizes={"cpu": 2, "gpu": 1})) == {
            (PLAN_TASK, send_failed.pk),
            (BATCH_TASK, taken_by_a_dead_worker.pk),
        }
        taken_by_a_dead_worker.refresh_from_db()
        assert (taken_by_a_dead_worker.dispatch, taken_by_a_dead_worker.dispatch_state) == (
            2,
            "requested",
        )
        # one message fewer in "cpu" than waiting there: both waiting ones are sent again
        assert set(jobs_requeue(sizes={"cpu": 1, "gpu": 1})) == {
            (PLAN_TASK, in_queue.pk),
            (FINALIZE_TASK, finishing.pk),
        }
        # the broker restarted empty
        assert jobs_requeue(sizes={"cpu": 0, "gpu": 0}) == [(BATCH_TASK, batch_in_queue.pk)]
        assert jobs_requeue(sizes={"cpu": 0, "gpu": 0}) == []  # just sent: not lost (yet)
    taken_by_a_live_worker.refresh_from_db()
    assert taken_by_a_live_worker.dispatch == 1
    # its worker died: the mark is gone, the message is sent again
    assert jobs_requeue(sizes={"cpu": 0, "gpu": 0}) == [(BATCH_TASK, taken_by_a_live_worker.pk)]


def test_a_worker_runs_only_the_newest_message_of_a_batch(stimulus_set):
    job = Job.objects.create(kind="relevance", stimulus_set=stimulus_set, status="running")
    batch = JobBatch.objects.create(job=job, index=0, stimulus_ids=[1], dispatch=2)
    assert batch_claim(batch_id=batch.pk, dispatch=1) is None  # an old copy
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("pending", 0)
    claimed = batch_claim(batch_id=batch.pk, dispatch=2)
    assert (claimed.status, claimed.attempts) == ("running", 1)
    claimed.refresh_from_db()
    assert claimed.dispatch_state == "taken"
    # the newest message handed out again after its worker died runs again
    assert batch_claim(batch_id=batch.pk, dispatch=2).attempts == 2


def test_a_batch_that_never_finishes_fails_its_job(stimulus_set, settings):
    settings.FACESIM_BATCH_MAX_ATTEMPTS = 3
    job = Job.objects.create(kind="relevance", stimulus_set=stimulus_set, status="running")
    batch = JobBatch.objects.create(job=job, index=4, stimulus_ids=[1], dispatch=1, attempts=2)
    assert batch_claim(batch_id=batch.pk, dispatch=1).attempts == 3
    assert batch_claim(batch_id=batch.pk, dispatch=1) is None  # handed out a fourth time
    job.refresh_from_db()
    batch.refresh_from_db()
    assert (job.status, batch.status) == ("failed", "failed")
    assert "Batch 4 was started 3 times without finishing" in job.error
    job_retry(job=job)  # a retry starts counting again
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("pending", 0)


def test_requeue_jobs_command(stimulus_set):
    lost = Job.objects.create(
        kind="relevance", stimulus_set=stimulus_set, **message("requested", 61)
    )
    out = StringIO()
    call_command("requeue_jobs", stdout=out)
    assert out.getvalue().splitlines() == [
        f"Sent again: {PLAN_TASK}({lost.pk})",
        "1 messages sent again.",
    ]
