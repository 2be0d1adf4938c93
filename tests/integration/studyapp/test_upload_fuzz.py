"""Generated hostile uploads to the stimulus importer and the weights upload: never a server
error, and a refused upload leaves nothing behind (no rows, no files)."""

import io
import itertools
import warnings
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyapp.models import FaceModel, Stimulus, StimulusSet
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_names = itertools.count()

paths = st.sampled_from(
    [
        "a.png",
        "a.jpg",
        "x/a.png",
        "images/a.png",
        "b.PNG",
        "../evil.png",
        "/etc/evil.png",
        "..\\evil.png",
        "C:\\evil.png",
        "a\x00b.png",
        "ü/☃.png",
        " .png",
        ".hidden.png",
        "__MACOSX/a.png",
        "dir/",
        "metadata.csv",
        "parts.json",
        "masks/a.png",
        "x" * 300 + ".png",
    ]
) | st.text(min_size=1, max_size=30)
contents = st.sampled_from(
    [
        png_bytes(1),
        png_bytes(2),
        png_bytes(3, fmt="JPEG"),
        b"",
        b"filename,identity\na.png,x\n",
        b'["skin"]',
        b"\xff\xd8\xff",
    ]
) | st.binary(max_size=300)
members = st.lists(st.tuples(paths, contents), min_size=0, max_size=6)
damage = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4)


def media_files(settings_) -> list[Path]:
    root = Path(settings_.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def make_zip(entries, damaged) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        warnings.simplefilter("ignore")  # duplicate names are part of the test
        for path, data in entries:
            if path.split("\x00")[0]:  # zipfile cuts names at NUL and cannot write "" itself
                zipped.writestr(path, data)
    data = bytearray(buffer.getvalue())
    for position, value in damaged:
        if data:
            data[position % len(data)] = value
    return bytes(data)


def named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def check_upload(staff_client, settings_, form: dict) -> None:
    """POST the import form; a refusal (any status but a redirect) must leave nothing."""
    before = (StimulusSet.objects.count(), Stimulus.objects.count(), media_files(settings_))
    response = staff_client.post(reverse("admin:studyapp_stimulusset_import"), form)
    assert response.status_code in {200, 302, 400, 413}, response.status_code
    after = (StimulusSet.objects.count(), Stimulus.objects.count(), media_files(settings_))
    if response.status_code != 302:
        assert after == before
    else:
        assert after[0] == before[0] + 1


@FUZZ
@given(entries=members, damaged=damage, metadata=st.none() | contents)
def test_zip_imports(staff_client, settings, entries, damaged, metadata):
    form = {"name": f"zip-{next(_names)}", "archive": named(make_zip(entries, damaged), "f.zip")}
    if metadata is not None:
        form["metadata"] = named(metadata, "labels.csv")
    check_upload(staff_client, settings, form)


@FUZZ
@given(raw=st.binary(max_size=2000), name=st.sampled_from(["f.zip", "f.ZIP", "f.png", "f"]))
def test_random_bytes_as_archive(staff_client, settings, raw, name):
    check_upload(
        staff_client, settings, {"name": f"raw-{next(_names)}", "archive": named(raw, name)}
    )


@FUZZ
@given(
    entries=st.lists(st.tuples(paths, contents), min_size=1, max_size=6),
    set_name=st.sampled_from(["dup", ""]) | st.text(max_size=20),
    label=st.sampled_from(["", "identity", "filename"]) | st.text(max_size=5),
)
def test_image_file_uploads(staff_client, settings, entries, set_name, label):
    uploads = [named(data, path) for path, data in entries]
    form = {"name": set_name or f"files-{next(_names)}", "images": uploads}
    form["label_from_folder"] = label
    check_upload(staff_client, settings, form)


@FUZZ
@given(
    raw=st.binary(max_size=2000),
    weights_format=st.sampled_from(["torchvision", "checkpoint", "vgg_face_dag", ""]),
    file_name=st.sampled_from(["w.pt", "../w.pt", "w", "ü.pth"]) | st.text(min_size=1, max_size=20),
    model_name=st.just("m") | st.text(max_size=10),
)
def test_weights_uploads(staff_client, settings, raw, weights_format, file_name, model_name):
    before = (FaceModel.objects.count(), media_files(settings))
    response = staff_client.post(
        reverse("research-models"),
        {
            "name": model_name,
            "architecture": "small_cnn",
            "pretraining": "none",
            "num_classes": "2",
            "seed": "0",
            "weights_format": weights_format,
            "weights": named(raw, file_name),
        },
    )
    assert response.status_code in {200, 302}, response.status_code
    after = (FaceModel.objects.count(), media_files(settings))
    if response.status_code == 200:
        assert after == before
    else:  # Django drops a file part whose name sanitises to nothing: a model without weights
        assert FaceModel.objects.latest("pk").weights == ""
        assert after == (before[0] + 1, before[1])
