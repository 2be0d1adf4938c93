"""Importing stimulus sets: labels, masks, deduplication, all-or-nothing, admin and command."""

import io
import os
import re
import resource
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from studyapp.models import Stimulus, StimulusSet
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.stimulus_sources import UnsafeSource, files_from_folder, files_from_zip
from studyapp.storage import stimulus_storage
from tests.factories import png_bytes, source

pytestmark = pytest.mark.django_db
LIMITS = {"max_files": 100, "max_total_bytes": 10_000_000}


def stored_files(settings) -> list[Path]:
    roots = [Path(settings.MEDIA_ROOT), Path(settings.PRIVATE_ROOT)]
    return sorted(p for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def test_folder_with_metadata_and_masks_is_imported(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(3):
        (tmp_path / "images" / f"f{i}.png").write_bytes(png_bytes(i))
        Image.new("L", (32, 32), i).save(tmp_path / "masks" / f"f{i}.png")
    (tmp_path / "parts.json").write_text('["background", "skin"]')
    (tmp_path / "metadata.csv").write_text("filename,gender\nf0.png,male\nf1.png,female\nf2,male\n")
    (tmp_path / "README.txt").write_text("notes")

    stimulus_set, report = stimulus_set_import(
        name="faces", files=files_from_folder(tmp_path, **LIMITS)
    )
    assert report.created == 3
    assert report.ignored == ["README.txt"]
    assert stimulus_set.label_columns == ["gender"]
    assert stimulus_set.part_names == ["background", "skin"]
    stimuli = {s.name: s for s in stimulus_set.stimuli.all()}
    assert set(stimuli) == {"f0", "f1", "f2"}
    assert stimuli["f1"].labels == {"gender": "female"}
    assert (stimuli["f1"].width, stimuli["f1"].height) == (32, 32)
    assert stimuli["f1"].image.read() == png_bytes(1)
    assert stimuli["f1"].part_mask.name.startswith("masks/")


def test_identical_images_are_stored_once_and_reported():
    files = [
        source("a.png", png_bytes(1)),
        source("b.png", png_bytes(1)),
        source("c.png", png_bytes(2)),
    ]
    stimulus_set, report = stimulus_set_import(name="dups", files=files)
    assert report.created == 2
    assert report.duplicates == [("b", "a")]
    assert stimulus_set.stimuli.count() == 2


def test_the_same_image_in_two_sets_shares_one_file(settings):
    stimulus_set_import(name="one", files=[source("a.png", png_bytes(5))])
    stimulus_set_import(name="two", files=[source("x.png", png_bytes(5))])
    assert len(stored_files(settings)) == 1
    assert Stimulus.objects.count() == 2


def test_one_bad_file_imports_nothing_and_lists_every_problem(settings):
    files = [
        source("good.png", png_bytes(1)),
        source("broken.png", png_bytes(2)[:50]),
        source("fake.jpg", b"<html>not an image</html>"),
        source("metadata.csv", b"filename,identity\ngood.png,a\nbroken.png,b\nmissing.png,c\n"),
    ]
    with pytest.raises(StimulusImportRejected) as rejected:
        stimulus_set_import(name="bad", files=files)
    messages = [str(p) for p in rejected.value.problems]
    assert any(m.startswith("broken.png: the image data is corrupt") for m in messages)
    assert any(m.startswith("fake.jpg: not an image") for m in messages)
    assert any("no image named 'missing.png'" in m for m in messages)
    assert any(m.startswith("fake.jpg: has no row in metadata.csv") for m in messages)
    assert not StimulusSet.objects.exists()
    assert not Stimulus.objects.exists()
    assert stored_files(settings) == []


def test_a_database_failure_removes_the_files_written(monkeypatch, settings):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Stimulus.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        stimulus_set_import(name="x", files=[source("a.png", png_bytes(1))])
    assert stored_files(settings) == []
    assert not StimulusSet.objects.exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [source("a.png", png_bytes(1)), source("metadata.csv", b"filename\na.png\na.png\n")],
            "listed twice",
        ),
        (
            [source("a.png", png_bytes(1)), source("metadata.csv", b"filename,x\na.png\n")],
            "has 1 cells",
        ),
        ([source("a.png", png_bytes(1)), source("masks/a.png", png_bytes(1))], "parts.json"),
        ([source("notes.txt", b"hello")], "no image files"),
    ],
)
def test_metadata_and_mask_problems(files, message):
    with pytest.raises(StimulusImportRejected, match=message):
        stimulus_set_import(name="m", files=files)


def test_mask_must_match_its_image_size():
    mask = io.BytesIO()
    Image.new("L", (10, 10)).save(mask, format="PNG")
    files = [
        source("images/a.png", png_bytes(1)),
        source("masks/a.png", mask.getvalue()),
        source("parts.json", b'["bg"]'),
    ]
    with pytest.raises(StimulusImportRejected, match="is 10×10; its image is 32×32"):
        stimulus_set_import(name="m", files=files)


def test_duplicate_set_name_is_rejected():
    stimulus_set_import(name="same", files=[source("a.png", png_bytes(1))])
    with pytest.raises(StimulusImportRejected, match="already exists"):
        stimulus_set_import(name="same", files=[source("b.png", png_bytes(2))])


def make_zip(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_zip_with_one_top_folder_and_label_from_folder():
    archive = make_zip(
        {
            "orl/s1/1.png": png_bytes(1),
            "orl/s1/2.png": png_bytes(2),
            "orl/s2/1.png": png_bytes(3),
            "__MACOSX/orl/._1.png": b"junk",
            "orl/.DS_Store": b"junk",
        }
    )
    files = files_from_zip(archive, **LIMITS)
    stimulus_set, _ = stimulus_set_import(name="orl", files=files, label_from_folder="identity")
    labels = dict(stimulus_set.stimuli.values_list("name", "labels"))
    assert labels == {
        "s1/1": {"identity": "s1"},
        "s1/2": {"identity": "s1"},
        "s2/1": {"identity": "s2"},
    }


def test_a_stimulus_name_longer_than_the_database_holds_is_a_problem_of_its_file():
    long_name = "a" * 300
    files = files_from_zip(
        make_zip({f"{long_name}.png": png_bytes(1), "b.png": png_bytes(2)}), **LIMITS
    )
    with pytest.raises(StimulusImportRejected) as rejected:
        stimulus_set_import(name="long names", files=files)
    assert "gives a stimulus name of 300 characters; at most 255" in str(rejected.value)
    assert not StimulusSet.objects.filter(name="long names").exists()


@pytest.mark.parametrize(
    ("members", "limits", "message"),
    [
        ({"../evil.png": b"x"}, LIMITS, "unsafe path"),
        ({"/etc/evil.png": b"x"}, LIMITS, "unsafe path"),
        ({f"{i}.png": b"x" for i in range(5)}, {**LIMITS, "max_files": 4}, "5 files"),
        ({"big.png": b"\0" * 5000}, {**LIMITS, "max_total_bytes": 4000}, "unpacks to 5,000"),
    ],
)
def test_unsafe_zips_are_refused(members, limits, message):
    with pytest.raises(UnsafeSource, match=message):
        files_from_zip(make_zip(members), **limits)


def test_not_a_zip_is_refused():
    with pytest.raises(UnsafeSource, match="not a readable zip"):
        files_from_zip(io.BytesIO(b"plain text"), **LIMITS)


def test_management_command_imports_and_reports_problems(tmp_path, capsys):
    for i in range(2):
        (tmp_path / f"img{i}.png").write_bytes(png_bytes(i))
    call_command("import_stimuli", str(tmp_path), "--name", "cmd")
    assert "Imported 2 stimuli" in capsys.readouterr().out
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(
        CommandError, match=re.escape("Nothing imported; 1 problems:\n  bad.png: not an image")
    ):
        call_command("import_stimuli", str(tmp_path), "--name", "cmd2")
    assert not StimulusSet.objects.filter(name="cmd2").exists()


def test_admin_import_of_a_zip_with_metadata(staff_client):
    archive = make_zip({"a.png": png_bytes(1), "b.png": png_bytes(2)})
    archive.name = "faces.zip"
    metadata = io.BytesIO(b"filename,identity\na.png,x\nb.png,y\n")
    metadata.name = "labels.csv"
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"),
        {"name": "uploaded", "archive": archive, "metadata": metadata},
    )
    stimulus_set = StimulusSet.objects.get(name="uploaded")
    assert response.status_code == 302
    assert dict(stimulus_set.stimuli.values_list("name", "labels")) == {
        "a": {"identity": "x"},
        "b": {"identity": "y"},
    }


def test_admin_import_of_single_files_lists_problems_and_saves_nothing(staff_client):
    good = io.BytesIO(png_bytes(1))
    good.name = "good.png"
    bad = io.BytesIO(b"GIF89a-broken")
    bad.name = "bad.gif"
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"), {"name": "files", "images": [good, bad]}
    )
    assert response.status_code == 200
    assert "bad.gif: " in response.content.decode()
    assert "Nothing was imported" in response.content.decode()
    assert not StimulusSet.objects.exists()


def test_admin_import_requires_staff(client):
    response = client.get(reverse("admin:studyapp_stimulusset_import"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_media_files_are_content_addressed():
    stimulus_set, _ = stimulus_set_import(name="ca", files=[source("z.png", png_bytes(9))])
    stimulus = stimulus_set.stimuli.get()
    assert stimulus.image.name == f"stimuli/{stimulus.sha256[:2]}/{stimulus.sha256}.png"
    assert stimulus_storage().exists(stimulus.image.name)


def test_admin_refuses_an_oversized_upload_before_reading_it(staff_client, settings):
    settings.STIMULUS_MAX_UPLOAD_BYTES = 1000
    archive = make_zip({f"{i}.png": png_bytes(i) for i in range(20)})
    archive.name = "big.zip"
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"), {"name": "big", "archive": archive}
    )
    assert response.status_code == 413
    assert "the limit is 1,000" in response.content.decode()
    assert not StimulusSet.objects.exists()


def patch_member(archive: io.BytesIO, name: str, **fields: int) -> io.BytesIO:
    """Rewrite header fields of one member in both its local and its central header.

    ``fields``: flag_bits, compress_type, crc, file_size (the declared uncompressed size).
    """
    data = bytearray(archive.getvalue())
    local = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name).header_offset
    central = data.index(b"PK\x01\x02")
    while struct.unpack_from("<I", data, central + 42)[0] != local:
        central = data.index(b"PK\x01\x02", central + 4)
    layout = {"flag_bits": (6, "<H"), "compress_type": (8, "<H"), "crc": (14, "<I")}
    layout["file_size"] = (22, "<I")
    for field, value in fields.items():
        offset, fmt = layout[field]
        struct.pack_into(fmt, data, local + offset, value)
        struct.pack_into(fmt, data, central + offset + 2, value)  # central = local + 2
    patched = io.BytesIO(bytes(data))
    patched.name = "patched.zip"
    return patched


def bomb_zip(inflated_mb: int, declared: int) -> io.BytesIO:
    """``bomb.png`` inflates to ``inflated_mb`` MiB of zeros but declares ``declared`` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.png", png_bytes(1))
        with archive.open("bomb.png", "w") as member:
            for _ in range(inflated_mb):
                member.write(bytes(1024 * 1024))
    return patch_member(buffer, "bomb.png", file_size=declared)


def test_a_zip_bomb_member_is_refused_after_the_limit_not_inflated(settings):
    archive = bomb_zip(200, declared=100)
    files = files_from_zip(archive, **LIMITS)
    tracemalloc.start()
    try:
        with pytest.raises(StimulusImportRejected) as rejected:
            stimulus_set_import(name="bomb", files=files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.file for p in rejected.value.problems] == ["bomb.png"]
    assert peak < 3 * 1024 * 1024, f"peak {peak:,} bytes while reading a 100-byte member"
    assert not StimulusSet.objects.exists()
    assert stored_files(settings) == []


def test_a_member_larger_than_the_file_limit_is_read_only_up_to_the_limit(settings):
    settings.STIMULUS_MAX_FILE_BYTES = 1000
    archive = bomb_zip(20, declared=20 * 1024 * 1024)
    files = files_from_zip(archive, max_files=10, max_total_bytes=10**9)
    with pytest.raises(StimulusImportRejected, match="more than 1,000 bytes once unpacked"):
        stimulus_set_import(name="big", files=files)


def _broken_zip(kind: str) -> io.BytesIO:
    members = {"good.png": png_bytes(1), "bad.png": png_bytes(2)}
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if kind == "corrupt deflate" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(
                name, b"\xff" * 64 if kind == "corrupt deflate" and name == "bad.png" else data
            )
    fields = {
        "bad CRC": {"crc": 12345},
        "encrypted": {"flag_bits": 0x1},
        "deflate64": {"compress_type": 9},
        "corrupt deflate": {"compress_type": zipfile.ZIP_DEFLATED},
    }[kind]
    return patch_member(buffer, "bad.png", **fields)


@pytest.mark.parametrize("kind", ["bad CRC", "encrypted", "deflate64", "corrupt deflate"])
def test_a_damaged_zip_member_is_a_listed_problem_not_a_500(staff_client, settings, kind):
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"),
        {"name": "broken", "archive": _broken_zip(kind)},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "bad.png: cannot be read from the upload" in page
    assert "Nothing was imported" in page
    assert not StimulusSet.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("paths", "clash"),
    [
        (["a.png", "a.jpg"], ("a.png", "a.jpg", "'a'")),
        (["x/b.png", "images/x/b.jpg"], ("x/b.png", "images/x/b.jpg", "'x/b'")),
        (["b.png", "images/b.png"], ("b.png", "images/b.png", "'b'")),
        (["masks/m.png", "masks/m.gif", "m.png"], ("masks/m.png", "masks/m.gif", "'m'")),
    ],
)
def test_two_files_with_one_stimulus_name_are_refused(paths, clash):
    files = [source(path, png_bytes(i)) for i, path in enumerate(paths)]
    with pytest.raises(StimulusImportRejected) as rejected:
        stimulus_set_import(name="clash", files=files)
    problems = [str(p) for p in rejected.value.problems]
    assert any(all(part in p for part in clash) for p in problems), problems
    assert not StimulusSet.objects.exists()


@pytest.mark.parametrize("names", [["x/b.png", "b.png"], ["b.png", "b.png"]])
def test_admin_refuses_two_uploads_with_one_file_name(staff_client, names):
    """Browsers' folder uploads reach Django as bare file names, so x/b.png becomes b.png."""
    uploads = []
    for i, name in enumerate(names):
        upload = io.BytesIO(png_bytes(i))
        upload.name = name
        uploads.append(upload)
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"), {"name": "two", "images": uploads}
    )
    assert response.status_code == 200
    assert "b.png: is in the upload twice" in response.content.decode()
    assert not StimulusSet.objects.exists()


def test_a_zip_with_one_member_name_twice_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.png", png_bytes(1))
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("a.png", png_bytes(2))
    with pytest.raises(StimulusImportRejected, match=r"a\.png: is in the upload twice"):
        stimulus_set_import(name="twice", files=files_from_zip(buffer, **LIMITS))


def test_admin_imports_150_image_files_in_one_upload(staff_client):
    uploads = []
    for i in range(150):
        upload = io.BytesIO(png_bytes(i, size=16))
        upload.name = f"face{i:03d}.png"
        uploads.append(upload)
    assert django_settings.DATA_UPLOAD_MAX_NUMBER_FILES > django_settings.STIMULUS_MAX_FILES
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"), {"name": "many", "images": uploads}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StimulusSet.objects.get(name="many").stimuli.count() == 150


def test_admin_refuses_an_oversized_upload_before_the_csrf_check_reads_it(
    django_user_model, settings
):
    settings.STIMULUS_MAX_UPLOAD_BYTES = 1000
    user = django_user_model.objects.create_user("csrf", password="pw", is_staff=True)
    user.is_superuser = True
    user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = reverse("admin:studyapp_stimulusset_import")
    archive = make_zip({f"{i}.png": png_bytes(i) for i in range(20)})
    archive.name = "big.zip"
    assert client.post(url, {"name": "big", "archive": archive}).status_code == 413
    small = make_zip({"a.png": png_bytes(1)})
    small.name = "small.zip"
    settings.STIMULUS_MAX_UPLOAD_BYTES = 10**6
    assert client.post(url, {"name": "small", "archive": small}).status_code == 403  # no token
    assert not StimulusSet.objects.exists()


def test_admin_upload_of_many_files_holds_one_open_file_not_one_per_image(staff_client, settings):
    """With Django's handlers every file of a large upload stays open until the request ends."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # as for any upload above 2.5 MB
    uploads = [named_upload(png_bytes(i, size=16), f"face{i:03d}.png") for i in range(150)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 60, hard))
    try:
        response = staff_client.post(
            reverse("admin:studyapp_stimulusset_import"), {"name": "fds", "images": uploads}
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert response.status_code == 302
    assert StimulusSet.objects.get(name="fds").stimuli.count() == 150


def test_admin_import_of_a_zip_read_from_the_spooled_upload(staff_client, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    archive = make_zip({f"{i}.png": png_bytes(i) for i in range(5)})
    metadata = named_upload(
        b"filename,identity\n" + b"".join(b"%d.png,x\n" % i for i in range(5)), "m.csv"
    )
    response = staff_client.post(
        reverse("admin:studyapp_stimulusset_import"),
        {
            "name": "spooled",
            "archive": named_upload(archive.getvalue(), "a.zip"),
            "metadata": metadata,
        },
    )
    assert response.status_code == 302
    labels = StimulusSet.objects.get(name="spooled").stimuli.values_list("labels", flat=True)
    assert list(labels) == [{"identity": "x"}] * 5


def named_upload(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_management_command_lists_a_damaged_member_and_imports_nothing(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(_broken_zip("deflate64").getvalue())
    with pytest.raises(CommandError, match=r"bad\.png: cannot be read from the upload"):
        call_command("import_stimuli", str(path), "--name", "broken")
    assert not StimulusSet.objects.exists()
