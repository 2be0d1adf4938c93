"""A job whose results do not fit on the disk fails with the error and leaves no file; freed,
the same job runs again and succeeds (a real worker; the disk is a small tmpfs)."""

import time

import pytest
from django.conf import settings as django_settings

import facegen
from studyapp.models import Artifact
from studyapp.services.jobs import job_launch, job_retry
from studyapp.services.stimuli import stimulus_set_import
from studyapp.stimulus_sources import files_from_folder
from studyapp.storage import read_arrays
from tests.compute_fixtures import small_model, wait_for
from tests.small_disk import fill, small_disk
from tests.worker import Worker, private_root_beside, purge_broker, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_job_on_a_full_disk_fails_clearly_and_runs_again_once_freed(tmp_path, settings):
    with small_disk(tmp_path / "disk", "4m") as disk:
        media = disk / "media"
        private = private_root_beside(media)
        media.mkdir()
        private.mkdir()
        settings.MEDIA_ROOT, settings.PRIVATE_ROOT = str(media), str(private)
        facegen.write_dataset(tmp_path / "faces", n_identities=6, images_per_identity=4, size=64)
        files = files_from_folder(
            tmp_path / "faces",
            max_files=django_settings.STIMULUS_MAX_FILES,
            max_total_bytes=django_settings.STIMULUS_MAX_UPLOAD_BYTES,
        )
        faces, _ = stimulus_set_import(name=f"full-{time.monotonic_ns()}", files=files)
        model = small_model("full-disk model")
        before = sorted(p for p in disk.rglob("*") if p.is_file())
        filler = fill(disk)

        purge_broker()
        worker = Worker(worker_environment(media), tmp_path / "worker.log").start()
        try:
            job = job_launch(kind="relevance", stimulus_set=faces, face_models=[model], params={})
            job = wait_for(job)
            assert job.status == "failed"
            assert "No space left on device" in job.error
            assert not Artifact.objects.filter(face_model=model).exists()
            assert sorted(p for p in disk.rglob("*") if p.is_file()) == sorted([*before, filler])

            filler.unlink()
            job = wait_for(job_retry(job=job))
            assert job.status == "succeeded", job.error
        finally:
            worker.stop()
        artifact = Artifact.objects.get(kind="relevance", face_model=model)
        maps = read_arrays(artifact.file.name, artifact.sha256)  # whole: its sha256 checks out
        assert len(maps["stimulus_ids"]) == 24
