"""Fixtures for compute tests: a real Celery worker, generated faces, small face models
(registered as a pytest plugin in tests/conftest.py)."""

import time

import pytest
from django.conf import settings as django_settings

import facegen
from modelsvc import ModelSpec
from studyapp.models import Job, JobBatch
from studyapp.services.face_models import face_model_register
from studyapp.services.stimuli import stimulus_set_import
from studyapp.stimulus_sources import files_from_folder
from tests.worker import Worker, private_root_beside, purge_broker, worker_environment

JOB_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def worker_media(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture
def media(settings, worker_media):
    """Tests and the worker share one media folder (and its private folder)."""
    settings.MEDIA_ROOT = worker_media
    settings.PRIVATE_ROOT = private_root_beside(worker_media)
    return worker_media


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, worker_media, tmp_path_factory):
    purge_broker()
    log = tmp_path_factory.mktemp("worker-log") / "worker.log"
    process = Worker(worker_environment(worker_media, FACESIM_JOB_BATCH_SIZE="8"), log).start()
    yield process
    process.stop()


@pytest.fixture
def faces(media, tmp_path):
    """24 generated faces (6 identities x 4 views), 64 px, with identity/gender labels."""
    facegen.write_dataset(
        tmp_path / "faces", n_identities=6, images_per_identity=4, size=64, seed=3
    )
    files = files_from_folder(
        tmp_path / "faces",
        max_files=django_settings.STIMULUS_MAX_FILES,
        max_total_bytes=django_settings.STIMULUS_MAX_UPLOAD_BYTES,
    )
    stimulus_set, _ = stimulus_set_import(name=f"faces-{time.monotonic_ns()}", files=files)
    return stimulus_set


def small_model(name: str, *, seed: int = 0, classes=("female", "male"), task="gender"):
    spec = ModelSpec(
        architecture="small_cnn",
        num_classes=len(classes),
        input_size=(64, 64),
        class_names=tuple(classes),
        layers=("features.11", "classifier.1"),
        task=task,
        seed=seed,
    )
    return face_model_register(name=name, spec=spec, pretraining="none")


def wait_for(job: Job, timeout: float = JOB_TIMEOUT_S) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.3)
    progress = f"{job.progress_done}/{job.progress_total}"
    raise AssertionError(f"job {job} did not finish in {timeout} s (progress {progress})")


def wait_until_mid_job(job: Job, timeout: float = 120) -> JobBatch:
    """Wait until the job has a batch stored and another running with model calls still to
    make; the running one.

    The job's progress counts a running batch's items as its model calls end, so a batch
    whose items are all counted may be storing its result: killing then would find it done.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batches = list(job.batches.order_by("index"))
        stored = any(b.status == "done" for b in batches)
        running = [
            b for b in batches if b.status == "running" and b.items_done < len(b.stimulus_ids)
        ]
        if stored and running:
            return running[0]
        time.sleep(0.05)
    job.refresh_from_db()
    raise AssertionError(f"job never had a running batch after a finished one: {job.status}")


def vgg_faces_job_inputs(tmp_path, name: str):
    """A 48-face generated set and a random VGG-16 gender model: a relevance job of several
    batches that takes long enough to be interrupted (worker kills, broker restarts)."""
    import facegen
    from modelsvc import ModelSpec
    from studyapp.services.face_models import face_model_register
    from studyapp.services.stimuli import stimulus_set_import
    from studyapp.stimulus_sources import files_from_folder

    facegen.write_dataset(tmp_path / "faces", n_identities=12, images_per_identity=4, size=64)
    files = files_from_folder(tmp_path / "faces", max_files=100, max_total_bytes=10**8)
    faces, _ = stimulus_set_import(name=f"{name} faces", files=files)
    spec = ModelSpec(
        architecture="vgg16",
        num_classes=2,
        input_size=(64, 64),
        class_names=("female", "male"),
        task="gender",
        layers=("features.29",),
    )
    return faces, face_model_register(name=f"vgg16 {name}", spec=spec, pretraining="none")
