"""An admin import with the face options runs on a real worker: the request stages the upload
and redirects to the import's page, which shows progress and then the set or every problem;
the staged zip is deleted; a message delivered again changes nothing. Skips without the
face-recognition-models package or the datasets (``tests.face_photos``)."""

import io
from pathlib import Path

import pytest
from django.urls import reverse

from studyapp.models import StimulusImport, StimulusSet
from tasks.imports import import_stimuli
from tests.compute_fixtures import wait_for
from tests.face_photos import face_photos_or_skip, no_face_png
from tests.worker import private_root_beside

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def photos(media) -> dict[str, bytes]:
    return face_photos_or_skip()


def uploads(files: dict[str, bytes]) -> list[io.BytesIO]:
    named = []
    for name, data in files.items():
        upload = io.BytesIO(data)
        upload.name = name
        named.append(upload)
    return named


def staged_files(media: Path) -> list[Path]:
    return [p for p in (private_root_beside(media) / "imports").glob("*") if p.is_file()]


def post_import(staff_client, files: dict[str, bytes], name: str, **options):
    url = reverse("admin:studyapp_stimulusset_import")
    fields = {"name": name, "images": uploads(files), "align_faces": "on", **options}
    return staff_client.post(url, fields)


def test_an_aligned_import_runs_on_the_worker(worker, photos, media, staff_client):
    page = staff_client.get(reverse("admin:studyapp_stimulusset_import")).content.decode()
    assert "non-commercial research only" in page
    response = post_import(staff_client, photos, "web", derive_part_masks="on")
    row = StimulusImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:studyapp_stimulusimport_change", args=[row.pk])
    queued = staff_client.get(response["Location"]).content.decode()
    assert "under way" in queued
    row = wait_for(row)
    assert row.status == "succeeded", row.problems
    assert (row.progress_done, row.progress_total) == (2, 2)
    stimulus_set = row.stimulus_set
    assert stimulus_set.name == "web"
    assert {(s.width, s.height) for s in stimulus_set.stimuli.all()} == {(150, 150)}
    assert all(s.part_mask for s in stimulus_set.stimuli.all())
    assert row.upload == ""
    assert staged_files(media) == []
    finished = staff_client.get(response["Location"]).content.decode()
    assert "Succeeded" in finished
    assert "2 of 2" in finished
    assert 'http-equiv="refresh"' not in finished
    assert 'http-equiv="refresh"' in queued

    import_stimuli(row.pk, row.dispatch)  # the message delivered again
    row.refresh_from_db()
    assert row.status == "succeeded"
    assert StimulusSet.objects.count() == 1


def test_a_photo_without_a_face_fails_the_import_and_is_listed(worker, photos, media, staff_client):
    post_import(staff_client, {**photos, "texture.png": no_face_png()}, "some faces")
    row = wait_for(StimulusImport.objects.get())
    assert row.status == "failed"
    assert len(row.problems) == 1
    assert row.problems[0].startswith("texture.png: no face found")
    assert not StimulusSet.objects.exists()
    assert row.upload == ""
    assert staged_files(media) == []
    page = staff_client.get(reverse("admin:studyapp_stimulusimport_change", args=[row.pk]))
    assert "texture.png: no face found" in page.content.decode()


def test_a_taken_name_is_refused_before_anything_is_staged(photos, media, staff_client):
    StimulusImport.objects.create(name="taken")  # queued: an import under way
    response = post_import(staff_client, photos, "taken")
    assert response.status_code == 200
    assert "an import of this name is already under way" in response.content.decode()
    assert StimulusImport.objects.count() == 1
    assert staged_files(media) == []
