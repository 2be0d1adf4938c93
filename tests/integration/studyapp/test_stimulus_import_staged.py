"""A staged import's outcomes without the face models (plain images): progress recorded, a
staged zip that the worker cannot find fails the import clearly, an error after success does
not undo it, a copy of the message delivered again does nothing. (With the face options on a
real worker: ``tests/integration/tasks/test_stimulus_import_worker``.)"""

import pytest
from django.core.files.storage import default_storage

from studyapp.models import StimulusImport, StimulusSet
from studyapp.services.stimulus_imports import (
    stimulus_import_fail,
    stimulus_import_run,
    stimulus_import_stage,
    stimulus_import_take,
)
from tasks.imports import import_stimuli
from tests.factories import png_bytes, source

pytestmark = pytest.mark.django_db(transaction=True)
PLAIN = {"label_from_folder": "", "align_faces": False, "derive_part_masks": False}


def staged(name: str = "plain", n: int = 3) -> StimulusImport:
    files = [source(f"f{i}.png", png_bytes(i)) for i in range(n)]
    row = stimulus_import_stage(name=name, files=files, options=PLAIN)
    row.refresh_from_db()  # its message's number
    return row


def test_a_staged_import_records_its_progress_and_deletes_the_zip():
    row = staged(n=3)
    assert default_storage.exists(row.upload)
    stimulus_import_run(stimulus_import_take(import_id=row.pk, dispatch=row.dispatch))
    upload = row.upload
    row.refresh_from_db()
    assert row.status == "succeeded"
    assert (row.progress_done, row.progress_total) == (3, 3)
    assert row.stimulus_set.stimuli.count() == 3
    assert row.upload == ""
    assert not default_storage.exists(upload)


def test_a_staged_zip_the_worker_cannot_find_fails_the_import():
    row = staged()
    default_storage.delete(row.upload)  # e.g. a worker on a host without the shared storage
    import_stimuli(row.pk, row.dispatch)
    row.refresh_from_db()
    assert row.status == "failed"
    assert row.problems[0].startswith("the import stopped: FileNotFoundError")
    assert not StimulusSet.objects.exists()


def test_an_error_after_success_keeps_the_import_succeeded():
    row = staged()
    stimulus_import_run(stimulus_import_take(import_id=row.pk, dispatch=row.dispatch))
    stimulus_import_fail(import_id=row.pk, error=OSError("disk gone"))
    row.refresh_from_db()
    assert row.status == "succeeded"
    assert row.problems == []


def test_an_old_copy_of_the_message_does_nothing():
    row = staged()
    assert stimulus_import_take(import_id=row.pk, dispatch=row.dispatch - 1) is None
    row.refresh_from_db()
    assert row.status == "queued"
    import_stimuli(row.pk, row.dispatch)
    import_stimuli(row.pk, row.dispatch)  # delivered twice
    assert StimulusSet.objects.get().stimuli.count() == 3
