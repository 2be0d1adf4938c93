"""A worker killed with SIGKILL in the middle of a job: a new worker finishes it, exactly once.

On both brokers: Redis delivers an unacknowledged task again only after the visibility timeout
(here 10 s; in production one hour, longer than any task); RabbitMQ puts it back in its queue as
soon as the dead worker's connection drops (a private node here). Tasks are acknowledged late
and are idempotent, so the batch that was running is simply run again. With Redis's production
timeout the requeue sweep sends it again first: the dead worker's run mark is gone.
"""

import time

import numpy as np
import pytest
from django.conf import settings as django_settings

from studyapp.models import Artifact, Job, JobBatch
from studyapp.services.dispatch import BATCH_TASK, broker_queue_sizes, rows_marked
from studyapp.services.jobs import job_launch
from studyapp.storage import read_arrays
from tests.compute_fixtures import vgg_faces_job_inputs, wait_for, wait_until_mid_job
from tests.private_servers import PrivateRabbitMQ, celery_point_at
from tests.worker import Worker, purge_broker, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
VISIBILITY_TIMEOUT_S = 10


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request, settings, monkeypatch):
    """The broker's name; the shared Redis (emptied) or a private RabbitMQ node."""
    if request.param == "redis":
        purge_broker()
        yield request.param
        return
    server = PrivateRabbitMQ()
    server.start()
    celery_point_at(server.url(), settings, monkeypatch)
    yield request.param
    server.remove()


@pytest.fixture
def environment(broker, worker_media):
    return worker_environment(
        worker_media,
        FACESIM_JOB_BATCH_SIZE="8",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_S),
        CELERY_UNACKED_RESTORE_INTERVAL="1",
    )


def kill_mid_job_then_finish(
    environment: dict, tmp_path, faces, model, *, timeout: float, before_second=None
) -> tuple[Job, JobBatch, float]:
    """Launch a relevance job, SIGKILL the worker while a batch runs after a stored one, then
    start a second worker (after ``before_second(job, killed_at)``) and wait for the job.
    Returns the job, the killed batch and the seconds from the kill to the job's end."""
    first = Worker(environment, tmp_path / "first.log", name="first").start()
    second = None
    try:
        job = job_launch(kind="relevance", stimulus_set=faces, face_models=[model])
        running = wait_until_mid_job(job)
        assert (BATCH_TASK, running.pk) in rows_marked()
        first.kill()
        killed_at = time.monotonic()
        running.refresh_from_db()
        assert running.status == JobBatch.Status.RUNNING, "the batch ended before the kill"
        if before_second is not None:
            before_second(job, killed_at)
        second = Worker(environment, tmp_path / "second.log", name="second").start()
        job = wait_for(job, timeout=timeout)
        return job, running, time.monotonic() - killed_at
    finally:
        first.stop()
        if second:
            second.stop()


def assert_finished_once(job: Job, model, faces, rerun_pk: int) -> None:
    assert job.status == "succeeded", job.error
    assert job.progress_done == job.progress_total == 48
    batches = list(job.batches.order_by("index"))
    assert len(batches) == 6
    assert all(b.status == JobBatch.Status.DONE for b in batches)
    rerun = next(b for b in batches if b.pk == rerun_pk)
    assert rerun.attempts == 2
    assert rerun.worker_host  # finished by the second worker
    artifacts = Artifact.objects.filter(kind="relevance", face_model=model)
    assert artifacts.count() == 1
    arrays = read_arrays(artifacts[0].file.name, artifacts[0].sha256)
    ids = arrays["stimulus_ids"].tolist()
    assert sorted(ids) == sorted(faces.stimuli.values_list("pk", flat=True))
    assert arrays["maps"].shape == (48, 64, 64)
    assert np.isfinite(arrays["maps"]).all()


def test_killed_worker_job_finishes_on_a_new_worker(broker, environment, media, tmp_path):
    faces, model = vgg_faces_job_inputs(tmp_path, "random")

    def message_back_in_rabbitmq(job: Job, killed_at: float) -> None:
        """RabbitMQ has the killed batch's message back in its queue at once."""
        unfinished = job.batches.exclude(status=JobBatch.Status.DONE).count()
        while broker_queue_sizes()["gpu"] < unfinished and time.monotonic() < killed_at + 5:
            time.sleep(0.1)
        assert broker_queue_sizes()["gpu"] == unfinished

    check = message_back_in_rabbitmq if broker == "rabbitmq" else None
    job, running, recovered_after = kill_mid_job_then_finish(
        environment, tmp_path, faces, model, timeout=180, before_second=check
    )
    assert_finished_once(job, model, faces, running.pk)
    if broker == "redis":  # Redis hands the killed batch out again only after the timeout
        assert VISIBILITY_TIMEOUT_S - 1 <= recovered_after < VISIBILITY_TIMEOUT_S + 60
    assert django_settings.CELERY_TASK_ACKS_LATE


def test_the_sweep_sends_a_dead_workers_batch_again_before_redis_would(
    worker_media, media, tmp_path
):
    """Redis with its production visibility timeout (one hour) would hand the killed batch out
    only after an hour; the sweep finds the batch taken with no run mark and sends it again."""
    purge_broker()
    environment = worker_environment(
        worker_media,
        FACESIM_JOB_BATCH_SIZE="8",
        FACESIM_REQUEUE_INTERVAL_S="1",
        FACESIM_REQUEUE_AFTER_S="2",
    )
    faces, model = vgg_faces_job_inputs(tmp_path, "random")
    job, running, recovered_after = kill_mid_job_then_finish(
        environment, tmp_path, faces, model, timeout=120
    )
    assert_finished_once(job, model, faces, running.pk)
    assert f"({BATCH_TASK!r}, {running.pk})" in (tmp_path / "second.log").read_text()
    assert recovered_after < 60  # worker start + 2 s + one sweep + the remaining batches


def test_a_database_restart_in_the_middle_of_a_job_loses_nothing(
    worker_media, media, tmp_path, database_outage
):
    """PostgreSQL ends every session of the worker (what a restart does) while a batch runs:
    its queries fail (or, with CONN_HEALTH_CHECKS, its next task reconnects first), Celery
    retries or the sweep sends again, the run marks are taken again, and the job completes
    with one result."""
    purge_broker()
    environment = worker_environment(
        worker_media,
        FACESIM_JOB_BATCH_SIZE="8",
        FACESIM_REQUEUE_INTERVAL_S="1",
        FACESIM_REQUEUE_AFTER_S="2",
        FACESIM_RUN_MARK_CHECK_S="0.2",
    )
    faces, model = vgg_faces_job_inputs(tmp_path, "random")
    worker = Worker(environment, tmp_path / "worker.log", name="restart").start()
    try:
        job = job_launch(kind="relevance", stimulus_set=faces, face_models=[model])
        wait_until_mid_job(job)
        ended = database_outage.away()
        database_outage.back()  # back at once, like a quick restart: every session was ended
        job = wait_for(job, timeout=120)
    finally:
        worker.stop()
    assert job.status == "succeeded", job.error
    assert job.progress_done == job.progress_total == 48
    assert all(b.status == JobBatch.Status.DONE for b in job.batches.all())
    assert Artifact.objects.filter(kind="relevance", face_model=model).count() == 1
    # The worker's sessions were ended (only the worker and this test connect to the test
    # database). Whether its log shows the error depends on whether a query was running then:
    # between tasks the health check reconnects without one.
    assert ended >= 1
