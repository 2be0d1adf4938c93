"""A job's progress moves per model call, not per whole batch, with a real worker.

Every value the job's progress takes is logged by a PostgreSQL trigger (written by the
worker's own updates), so the steps are seen however fast the worker is.
"""

import pytest
from django.db import connection

from studyapp.models import Job, JobBatch
from studyapp.services.jobs import batch_complete, batch_progress, job_launch
from studyapp.storage import store_file
from tests.compute_fixtures import small_model, wait_for
from tests.factories import make_stimulus_set
from tests.worker import Worker, purge_broker, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LOG_PROGRESS = """
CREATE TABLE test_progress_log (id serial PRIMARY KEY, job_id bigint, done integer);
CREATE FUNCTION test_log_progress() RETURNS trigger AS $$
BEGIN
  INSERT INTO test_progress_log (job_id, done) VALUES (NEW.id, NEW.progress_done);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_log_progress AFTER UPDATE OF progress_done ON studyapp_job
  FOR EACH ROW WHEN (OLD.progress_done IS DISTINCT FROM NEW.progress_done)
  EXECUTE FUNCTION test_log_progress();
"""
STOP_LOGGING = """
DROP TRIGGER IF EXISTS test_log_progress ON studyapp_job;
DROP FUNCTION IF EXISTS test_log_progress();
DROP TABLE IF EXISTS test_progress_log;
"""


@pytest.fixture
def progress_log():
    with connection.cursor() as cursor:
        cursor.execute(STOP_LOGGING + LOG_PROGRESS)
    yield
    with connection.cursor() as cursor:
        cursor.execute(STOP_LOGGING)


def logged(job: Job) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT done FROM test_progress_log WHERE job_id = %s ORDER BY id", [job.pk])
        return [row[0] for row in cursor.fetchall()]


# dissection: 8 passes over the 24 images (4 each for the model and its random copy), 3 calls
# per pass; the bar moves by the images seen over all passes / 8 after every call
STEPS = {"dissection": list(range(1, 25))}
PARAMS = {"dissection": {"layers": ["features.4"]}}


@pytest.mark.parametrize("kind", ["embeddings", "relevance", "masking", "dissection"])
def test_a_24_image_job_in_one_batch_moves_per_model_call(
    kind, faces, media, progress_log, tmp_path
):
    purge_broker()
    environment = worker_environment(
        media, FACESIM_JOB_BATCH_SIZE="32", FACESIM_MODEL_CALL_SIZE="8"
    )
    worker = Worker(environment, tmp_path / "worker.log").start()
    try:
        models = [small_model("m")]
        if kind == "masking":  # masking needs the model's relevance maps first
            maps = wait_for(job_launch(kind="relevance", stimulus_set=faces, face_models=models))
            assert maps.status == Job.Status.SUCCEEDED, maps.error
        job = wait_for(
            job_launch(kind=kind, stimulus_set=faces, face_models=models, params=PARAMS.get(kind))
        )
    finally:
        worker.stop()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.batches.count() == 1  # one sub-task: the steps are within it
    assert logged(job) == STEPS.get(kind, [8, 16, 24])
    assert job.batches.get().items_done == 24


def test_a_batch_run_again_does_not_count_its_items_twice(progress_log):
    stimulus_set = make_stimulus_set(24)
    job = Job.objects.create(
        kind=Job.Kind.EMBEDDINGS, stimulus_set=stimulus_set, status="running", progress_total=24
    )
    ids = list(stimulus_set.stimuli.values_list("pk", flat=True))
    batch = JobBatch.objects.create(job=job, index=0, stimulus_ids=ids, status="running")
    batch_progress(batch_id=batch.pk, done=8)
    batch_progress(batch_id=batch.pk, done=16)  # then its worker dies; the batch runs again
    for done in (8, 16, 24):
        batch_progress(batch_id=batch.pk, done=done)
    name, sha = store_file("jobs/result.npz", b"result")
    batch_complete(batch_id=batch.pk, result_name=name, result_sha256=sha, failures=[])
    job.refresh_from_db()
    assert logged(job) == [8, 16, 24]
    assert job.progress_done == 24
