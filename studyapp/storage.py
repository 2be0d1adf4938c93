"""Where files live: private storage (results, reports, job outputs, weights, part masks) and
the public stimulus storage (the images studies show), plus ``.npz`` arrays with their sha256
checked on every read.

``STORAGES["default"]`` is private: no URL serves it, views that check the study role stream
its files (``studyapp.file_responses``). ``STORAGES["stimuli"]`` holds stimulus images only.
Both write a file under a temporary name and rename it into place (``AtomicSaveMixin``); the
workers remove the temporary files that a killed process left (``partial_files_remove``).
"""

import hashlib
import os
import secrets
import shutil
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.core.files.storage.base import Storage
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property

from modelsvc.artifacts import npz_decode, npz_encode

STIMULI = "stimuli"
PARTIAL_PREFIX = ".partial-"


class AtomicSaveMixin:
    """A saved file appears complete or not at all: it is written to a hidden temporary file in
    its folder, then renamed to its name. (Django writes under the final name, so a full disk
    or a killed process left a truncated file there, which a content-derived name, as stimulus
    images and masks have, would then reuse as if complete.)"""

    def _save(self, name, content):
        folder = os.path.dirname(self.path(name))
        os.makedirs(folder, mode=self.directory_permissions_mode or 0o777, exist_ok=True)
        partial = os.path.join(folder, f"{PARTIAL_PREFIX}{secrets.token_hex(8)}")
        # 0o666 less the umask, as Django's own saves: FILE_UPLOAD_PERMISSIONS = None keeps it
        handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
            return super()._save(name, _WrittenFile(partial))  # renamed into place
        finally:
            if os.path.exists(partial):
                os.unlink(partial)


class _WrittenFile:
    """A complete file on disk, which ``FileSystemStorage._save`` moves instead of copying."""

    def __init__(self, path: str):
        self.path = path

    def temporary_file_path(self) -> str:
        return self.path


@deconstructible(path="studyapp.storage.StimulusFileSystemStorage")
class StimulusFileSystemStorage(AtomicSaveMixin, FileSystemStorage):
    """The public stimulus images (``MEDIA_ROOT``)."""


@deconstructible(path="studyapp.storage.PrivateFileSystemStorage")
class PrivateFileSystemStorage(AtomicSaveMixin, FileSystemStorage):
    """A folder no URL maps to (``PRIVATE_ROOT`` unless ``location`` is given)."""

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_ROOT)

    def url(self, name):
        raise ValueError(
            f"Private file {name!r} has no public URL; serve it through a view that checks "
            "the study role."
        )

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


def partial_files_remove(older_than_s: float) -> list[Path]:
    """Delete the temporary files of saves that never finished (a process killed while writing)
    in both storages, if unchanged for ``older_than_s`` seconds (a save in progress writes to
    its file, so it is recent); returns the paths deleted."""
    cutoff = time.time() - older_than_s
    removed = []
    for storage in (storages["default"], stimulus_storage()):
        if not isinstance(storage, AtomicSaveMixin):
            continue  # an object store leaves no temporary files here
        for path in Path(storage.location).rglob(f"{PARTIAL_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:  # renamed into place, or deleted, since it was listed
                continue
    return removed


def stimulus_storage() -> Storage:
    """The storage of stimulus images (a callable, so migrations do not freeze the backend)."""
    return storages[STIMULI]


def store_file(name: str, data: bytes) -> tuple[str, str]:
    """Save ``data`` privately as ``name`` (or a free variant of it); returns (name, sha256)."""
    stored = default_storage.save(name, ContentFile(data))
    return stored, hashlib.sha256(data).hexdigest()


def store_arrays(name: str, arrays: dict[str, np.ndarray]) -> tuple[str, str]:
    """Save ``arrays`` as an ``.npz`` (see ``store_file``)."""
    return store_file(name, npz_encode(arrays)[0])


def read_arrays(name: str, sha256: str) -> dict[str, np.ndarray]:
    """Load a stored ``.npz``; a file whose sha256 changed is an error, not data."""
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    return npz_decode(data, sha256=sha256, name=name)


@lru_cache(maxsize=4)
def read_arrays_cached(name: str, sha256: str) -> dict[str, np.ndarray]:
    """``read_arrays`` for files read again and again (relevance maps): kept per process.

    Stored arrays never change under a name and digest, so the cache cannot go stale.
    """
    return read_arrays(name, sha256)


def local_path(name: str) -> str:
    """A local file path for a privately stored file (the file-system storage keeps it
    locally; an object store would need a download step here)."""
    return default_storage.path(name)


def files_delete(names: list[str]) -> None:
    """Delete privately stored files; a file already gone is fine (deleting twice is harmless)."""
    for name in names:
        if name:
            default_storage.delete(name)


def public_files_make_private(*, dry_run: bool = False) -> list[str]:
    """Move every file but the stimulus images from ``MEDIA_ROOT`` to ``PRIVATE_ROOT``, under
    the same names (rows keep pointing at them); returns the names.

    Installs from before the private storage kept artifacts, reports, job outputs, weights and
    part masks in the public folder. A name present in both folders is an error: nothing moves.
    """
    public, private = Path(settings.MEDIA_ROOT), Path(settings.PRIVATE_ROOT)
    names = sorted(
        path.relative_to(public).as_posix()
        for path in public.rglob("*")
        if path.is_file() and not path.relative_to(public).as_posix().startswith("stimuli/")
    )
    clashes = [name for name in names if (private / name).exists()]
    if clashes:
        raise FileExistsError(f"In both the public and the private folder: {clashes[:10]}.")
    if not dry_run:
        for name in names:
            (private / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(public / name, private / name)
    return names
