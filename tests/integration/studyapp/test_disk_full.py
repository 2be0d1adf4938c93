"""A full disk: files are saved whole or not at all, and requests answer 507, not 500.

The disk is a real one: a small tmpfs mounted for the test (``tests.small_disk``).
"""

import errno
import io
import zipfile

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.urls import reverse
from PIL import Image

from studyapp.models import StimulusSet
from studyapp.storage import PrivateFileSystemStorage
from tests.small_disk import small_disk as mounted_small_disk

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB filesystem: a folder where writing more than that fails with ENOSPC."""
    with mounted_small_disk(tmp_path / "small-disk", "64k") as folder:
        yield folder


def files_in(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def noise_png(seed: int, size: int = 96) -> bytes:
    """An image PNG cannot compress (about 27 KB)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_save_that_fills_the_disk_leaves_no_file(small_disk):
    data = b"x" * 200_000
    with pytest.raises(OSError, match="No space left") as raised:
        PrivateFileSystemStorage(location=small_disk).save("results/big.npz", ContentFile(data))
    assert raised.value.errno == errno.ENOSPC
    assert files_in(small_disk) == []
    # the control: Django's own storage leaves a truncated file under the real name
    with pytest.raises(OSError, match="No space left"):
        FileSystemStorage(location=small_disk).save("results/big.npz", ContentFile(data))
    (left,) = files_in(small_disk)
    assert 0 < (small_disk / left).stat().st_size < len(data)


def test_a_save_that_fits_is_whole_and_readable(small_disk):
    storage = PrivateFileSystemStorage(location=small_disk)
    name = storage.save("results/a.bin", ContentFile(b"abc" * 1000))
    assert storage.open(name).read() == b"abc" * 1000
    assert oct((small_disk / name).stat().st_mode & 0o777) == "0o644"
    other = storage.save("results/a.bin", ContentFile(b"other"))
    assert other != name  # never overwritten
    assert files_in(small_disk) == sorted([name, other])  # no temporary file left


def test_a_stimulus_import_onto_a_full_disk_answers_507_and_stores_nothing(
    small_disk, settings, django_user_model
):
    settings.MEDIA_ROOT = str(small_disk)
    staff = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    staff.is_superuser = True
    staff.save()
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for i in range(4):  # about 110 KB of images for 64 KiB
            zipped.writestr(f"face{i}.png", noise_png(i))
    archive.seek(0)
    archive.name = "faces.zip"
    response = client.post(
        reverse("admin:studyapp_stimulusset_import"), {"name": "full", "archive": archive}
    )
    assert response.status_code == 507
    assert "out of disk space" in response.content.decode()
    assert not StimulusSet.objects.exists()
    assert files_in(small_disk) == []  # the images written before the disk filled are gone
