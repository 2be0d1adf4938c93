"""A real worker deletes, when it is ready, the temporary files that saves of a killed process
left in the public and private folders (and keeps a recent one, which a save may be writing)."""

import time

import pytest

from studyapp.storage import PARTIAL_PREFIX
from tasks.requeue import PARTIAL_FILE_MAX_AGE_S
from tests.factories import aged_file
from tests.worker import Worker, private_root_beside, purge_broker, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)


def left_over(folder, name: str, age_s: float):
    return aged_file(folder / f"{PARTIAL_PREFIX}{name}", age_s)


def test_a_starting_worker_deletes_old_temporary_files(tmp_path):
    purge_broker()
    media = tmp_path / "media"
    old_age = PARTIAL_FILE_MAX_AGE_S + 60
    old = [
        left_over(media / "stimuli" / "set1", "a", old_age),
        left_over(private_root_beside(media) / "results", "b", old_age),
    ]
    recent = left_over(private_root_beside(media) / "results", "c", 60)
    environment = worker_environment(media, FACESIM_REQUEUE_INTERVAL_S="1")
    worker = Worker(environment, tmp_path / "worker.log", name="sweep").start()
    try:
        deadline = time.monotonic() + 30
        while any(p.exists() for p in old) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.stop()
    assert not any(p.exists() for p in old)
    assert recent.exists()
    log = (tmp_path / "worker.log").read_text()
    assert all(f"save that never finished: {p}" in log for p in old)
