"""Files to import, from a folder, a zip archive or browser uploads, as one uniform list."""

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

READ_CHUNK_BYTES = 64 * 1024
# What reading a hostile or damaged archive can raise: bad CRC or header (BadZipFile),
# encryption (RuntimeError), deflate64 and other methods (NotImplementedError), broken streams.
ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
)


class UnsafeSource(ValueError):
    """The upload as a whole cannot be imported (unsafe paths, too many or too large files)."""


class UnreadableFile(ValueError):
    """One file cannot be read (a damaged or unsupported archive member, or too large)."""


@dataclass(frozen=True)
class SourceFile:
    """A file by its path inside the upload (posix, relative); ``size`` is as declared."""

    path: str
    size: int
    open: Callable[[], AbstractContextManager[BinaryIO]]

    def read(self, *, limit: int) -> bytes:
        """The file's bytes; UnreadableFile past ``limit`` bytes or when the archive is damaged.

        Never trusts the declared size: at most ``limit + 1`` bytes are ever unpacked.
        """
        try:
            with self.open() as stream:
                data = _read_at_most(stream, limit + 1)
        except ARCHIVE_ERRORS as error:
            raise UnreadableFile(f"cannot be read from the upload ({error})") from error
        if len(data) > limit:
            raise UnreadableFile(
                f"has more than {limit:,} bytes once unpacked; the limit is {limit:,}"
            )
        return data


def _read_at_most(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes in bounded chunks (a zip member inflates one chunk at a time)."""
    chunks: list[bytes] = []
    left = size
    while left > 0 and (chunk := stream.read(min(READ_CHUNK_BYTES, left))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _is_ignored(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _clean_path(raw: str) -> PurePosixPath:
    path = PurePosixPath(raw.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or "\0" in raw or not path.parts:
        raise UnsafeSource(f"unsafe path in upload: {raw!r}")
    return path


def _strip_common_root(files: list[SourceFile]) -> list[SourceFile]:
    """``faces/images/a.png`` → ``images/a.png`` when every file sits in one top folder."""
    tops = {PurePosixPath(f.path).parts[0] for f in files if len(PurePosixPath(f.path).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(f.path).parts) > 1 for f in files):
        return [
            SourceFile(str(PurePosixPath(*PurePosixPath(f.path).parts[1:])), f.size, f.open)
            for f in files
        ]
    return files


def _checked(
    files: list[SourceFile], *, max_files: int, max_total_bytes: int, strip_root: bool = True
) -> list[SourceFile]:
    if len(files) > max_files:
        raise UnsafeSource(f"the upload has {len(files):,} files; the limit is {max_files:,}")
    total = sum(f.size for f in files)
    if total > max_total_bytes:
        raise UnsafeSource(
            f"the upload unpacks to {total:,} bytes; the limit is {max_total_bytes:,}"
        )
    return sorted(_strip_common_root(files) if strip_root else files, key=lambda f: f.path)


def files_from_folder(folder: Path, *, max_files: int, max_total_bytes: int) -> list[SourceFile]:
    """Every regular file below ``folder`` (hidden files and folders skipped)."""
    if not folder.is_dir():
        raise UnsafeSource(f"not a folder: {folder}")
    files = []
    for path in folder.rglob("*"):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and not path.is_symlink() and not _is_ignored(relative):
            files.append(
                SourceFile(str(relative), path.stat().st_size, lambda path=path: path.open("rb"))
            )
    return _checked(files, max_files=max_files, max_total_bytes=max_total_bytes)


def files_from_zip(
    archive, *, max_files: int, max_total_bytes: int, strip_root: bool = True
) -> list[SourceFile]:
    """Members of a zip archive (a path or a binary file object); sizes are checked first.

    Member sizes are those the archive declares; ``SourceFile.read`` enforces the real ones.
    ``strip_root=False`` keeps a folder that holds every file (an archive staged from files
    whose common folder was already dropped).
    """
    try:
        zipped = zipfile.ZipFile(archive)
        members = zipped.infolist()
    except ARCHIVE_ERRORS as error:
        raise UnsafeSource(f"not a readable zip archive ({error})") from error
    files = []
    for info in members:
        path = _clean_path(info.filename)
        if not info.is_dir() and not _is_ignored(path):
            files.append(SourceFile(str(path), info.file_size, lambda info=info: zipped.open(info)))
    return _checked(
        files, max_files=max_files, max_total_bytes=max_total_bytes, strip_root=strip_root
    )


def files_from_uploads(
    uploads: Iterable, *, max_files: int, max_total_bytes: int
) -> list[SourceFile]:
    """Django ``UploadedFile`` objects (Django keeps only the base name of each upload)."""
    files = []
    for upload in uploads:
        path = _clean_path(upload.name)
        if not _is_ignored(path):
            files.append(SourceFile(str(path), upload.size, lambda upload=upload: _rewound(upload)))
    return _checked(files, max_files=max_files, max_total_bytes=max_total_bytes)


def _rewound(upload) -> AbstractContextManager:
    """An upload from byte 0, left open afterwards (it may be read again)."""
    upload.seek(0)
    return nullcontext(upload)
