"""The import options "align and crop" and "derive part masks" on real photos (ORL, OMI):
what is stored and recorded, and a photo without a face reported by file (nothing imported).
Skips when the face-recognition-models package or the datasets are absent."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from modelsvc.builtin import get_builtin
from modelsvc.dlib_parts import LANDMARK_PART_NAMES
from studyapp.models import StimulusSet
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.storage import stimulus_storage
from tests.factories import png_bytes, source

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))
FACES = {"orl_s3.pgm": "orl_faces/s3/4.pgm", "omi_5.jpg": "omi_faces/images/5.jpg"}


@pytest.fixture
def faces() -> dict[str, bytes]:
    try:
        get_builtin("dlib_resnet29").weights_path()
    except ValueError as exc:
        pytest.skip(str(exc))
    if not all((DATASETS / path).is_file() for path in FACES.values()):
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    return {name: (DATASETS / path).read_bytes() for name, path in FACES.items()}


def _no_face() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


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
    files.append(source("texture.png", _no_face()))
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


def test_admin_import_lists_the_file_without_a_face(faces, staff_client):
    uploads = []
    for name, data in [*faces.items(), ("texture.png", _no_face())]:
        upload = io.BytesIO(data)
        upload.name = name
        uploads.append(upload)
    url = reverse("admin:studyapp_stimulusset_import")
    page = staff_client.get(url).content.decode()
    assert "non-commercial research only" in page
    assert "Align and crop" in page
    response = staff_client.post(
        url, {"name": "web", "images": uploads, "align_faces": "on", "derive_part_masks": "on"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in content
    assert "texture.png: no face found" in content
    assert "omi_5.jpg" not in content
    assert not StimulusSet.objects.exists()


def test_management_command_aligns_faces(faces, tmp_path, capsys):
    for name, data in faces.items():
        (tmp_path / name).write_bytes(data)
    call_command("import_stimuli", str(tmp_path), "--name", "cmd", "--align-faces")
    assert "Imported 2 stimuli" in capsys.readouterr().out
    assert set(StimulusSet.objects.get(name="cmd").stimuli.values_list("width", flat=True)) == {150}
    (tmp_path / "texture.png").write_bytes(_no_face())
    with pytest.raises(CommandError, match=r"texture\.png: no face found"):
        call_command("import_stimuli", str(tmp_path), "--name", "cmd2", "--align-faces")
