"""Temporary files of saves: made with the umask's permissions, and deleted once a save that
never finished (a killed process) has left one unchanged for long enough."""

import os
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile

from studyapp.storage import PARTIAL_PREFIX, PrivateFileSystemStorage, partial_files_remove
from tests.factories import aged_file


def partial(folder, name: str, age_s: float):
    """A left-over temporary file last written ``age_s`` seconds ago."""
    return aged_file(folder / f"{PARTIAL_PREFIX}{name}", age_s)


def test_old_temporary_files_are_deleted_in_both_storages_and_recent_ones_kept(settings, tmp_path):
    media, private = tmp_path / "media", tmp_path / "private"
    settings.MEDIA_ROOT, settings.PRIVATE_ROOT = media, private
    old = [partial(media / "stimuli" / "set1", "a", 7200), partial(private / "jobs", "b", 7200)]
    recent = partial(private / "jobs", "c", 60)  # a save may still be writing it
    kept = aged_file(private / "jobs" / "result.npz", 7200, b"whole")

    assert sorted(partial_files_remove(3600)) == sorted(old)
    assert [p.exists() for p in old] == [False, False]
    assert recent.exists()
    assert kept.exists()
    assert partial_files_remove(3600) == []


def test_a_storage_of_another_kind_is_not_searched(settings, tmp_path):
    settings.MEDIA_ROOT, settings.PRIVATE_ROOT = tmp_path / "media", tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    stimulus_file = partial(tmp_path / "media" / "stimuli", "a", 7200)
    unused_folder_file = partial(tmp_path / "private", "b", 7200)
    assert partial_files_remove(3600) == [stimulus_file]
    assert unused_folder_file.exists()


@contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_without_upload_permissions_a_saved_file_has_the_umasks_mode(
    settings, tmp_path, mask, mode
):
    settings.FILE_UPLOAD_PERMISSIONS = None
    storage = PrivateFileSystemStorage(location=tmp_path)
    with umask(mask):
        name = storage.save("results/a.bin", ContentFile(b"abc"))
    assert (tmp_path / name).stat().st_mode & 0o777 == mode
