"""The import options "align and crop" and "derive part masks" on real photos (ORL, OMI):
what is stored and recorded, and a photo without a face reported by file (nothing imported).
Skips when the face-recognition-models package or the datasets are absent. (Through the
admin these imports run on a worker: ``tests/integration/tasks/test_stimulus_import_worker``.)"""

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from modelsvc.dlib_parts import LANDMARK_PART_NAMES
from studyapp.models import StimulusSet
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.services.stimulus_imports import (
    stimulus_import_run,
    stimulus_import_stage,
    stimulus_import_take,
)
from studyapp.storage import stimulus_storage
from tests.face_photos import face_photos_or_skip, no_face_png
from tests.factories import png_bytes, source

pytestmark = pytest.mark.django_db


@pytest.fixture
def faces() -> dict[str, bytes]:
    return face_photos_or_skip()


def test_align_and_derive_part_masks_store_chips_masks_and_records(faces):
    files = [source(name, data) for name, data in faces.items()]
    stimulus_set, report = stimulus_set_import(
        name="aligned", files=files, align_faces=True, derive_part_masks=True
    )
    assert report.created == 2
    assert stimulus_set.part_names == list(LANDMARK_PART_NAMES)
    for stimulus in stimulus_set.stimuli.all():
        assert (stimulus.width, stimulus.height) == (150, 150)
        with stimulus_storage().open(stimulus.image.name) as stored:
            assert Image.open(stored).size == (150, 150)
        with stimulus.part_mask.open() as stored:
            labels = np.asarray(Image.open(stored))
        assert labels.shape == (150, 150)
        assert set(np.unique(labels)) == set(range(len(LANDMARK_PART_NAMES)))
        record = stimulus.preparation
        assert record["options"] == {"align_and_crop": True, "derive_part_masks": True}
        assert record["detector_score"] > 0
        assert record["faces_found"] == 1
        assert len(record["landmarks_5"]) == 5
        assert len(record["landmarks_68"]) == 68
        assert "non-commercial" in record["part_mask_licence"]
    assert {s.original_format for s in stimulus_set.stimuli.all()} == {"PPM", "JPEG"}


def test_part_masks_without_alignment_match_the_photo(faces):
    files = [source("omi_5.jpg", faces["omi_5.jpg"])]
    stimulus_set, _ = stimulus_set_import(name="masked", files=files, derive_part_masks=True)
    stimulus = stimulus_set.stimuli.get()
    assert (stimulus.width, stimulus.height) == (256, 256)
    with stimulus.part_mask.open() as stored:
        assert Image.open(stored).size == (256, 256)
    assert "alignment" not in stimulus.preparation


def test_a_photo_without_a_face_is_reported_and_nothing_is_imported(faces, settings):
    files = [source(name, data) for name, data in faces.items()]
    files.append(source("texture.png", no_face_png()))
    with pytest.raises(StimulusImportRejected) as rejected:
        stimulus_set_import(name="some faces", files=files, align_faces=True)
    problems = [(p.file, p.message) for p in rejected.value.problems]
    assert len(problems) == 1
    assert problems[0][0] == "texture.png"
    assert "no face found" in problems[0][1]
    assert not StimulusSet.objects.exists()


def test_derived_and_uploaded_masks_are_refused_together(faces):
    files = [source("omi_5.jpg", faces["omi_5.jpg"]), source("masks/omi_5.png", png_bytes(1))]
    files.append(source("parts.json", b'["background", "face"]'))
    with pytest.raises(StimulusImportRejected, match="do not also derive them"):
        stimulus_set_import(name="both", files=files, derive_part_masks=True)


def test_management_command_aligns_faces(faces, tmp_path, capsys):
    for name, data in faces.items():
        (tmp_path / name).write_bytes(data)
    call_command("import_stimuli", str(tmp_path), "--name", "cmd", "--align-faces")
    assert "Imported 2 stimuli" in capsys.readouterr().out
    assert set(StimulusSet.objects.get(name="cmd").stimuli.values_list("width", flat=True)) == {150}
    (tmp_path / "texture.png").write_bytes(no_face_png())
    with pytest.raises(CommandError, match=r"texture\.png: no face found"):
        call_command("import_stimuli", str(tmp_path), "--name", "cmd2", "--align-faces")


def test_a_staged_import_keeps_the_folder_that_holds_every_photo(faces):
    """The request already dropped the upload's common top folder; the worker's import must
    not drop the next one (here the identity folder that ``label_from_folder`` reads)."""
    files = [source(f"s3/{name}", data) for name, data in faces.items()]
    options = {"label_from_folder": "identity", "align_faces": True, "derive_part_masks": False}
    row = stimulus_import_stage(name="staged", files=files, options=options)
    row.refresh_from_db()  # its message's number
    stimulus_import_run(stimulus_import_take(import_id=row.pk, dispatch=row.dispatch))
    row.refresh_from_db()
    assert row.status == "succeeded", row.problems
    stimuli = row.stimulus_set.stimuli.order_by("name")
    assert [s.name for s in stimuli] == ["s3/omi_5", "s3/orl_s3"]
    assert [s.labels for s in stimuli] == [{"identity": "s3"}] * 2
