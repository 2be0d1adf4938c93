"""Files to import, from a folder, a zip archive or browser uploads, as one uniform list."""

import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class SourceFile:
    """A file by its path inside the upload (posix, relative); ``read`` may be called again."""

    path: str
    size: int
    read: Callable[[], bytes]


class UnsafeSource(ValueError):
    """The upload as a whole cannot be imported (unsafe paths, too many or too large files)."""


def _is_ignored(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _clean_path(raw: str) -> PurePosixPath:
    path = PurePosixPath(raw.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeSource(f"unsafe path in upload: {raw!r}")
    return path


def _strip_common_root(files: list[SourceFile]) -> list[SourceFile]:
    """``faces/images/a.png`` → ``images/a.png`` when every file sits in one top folder."""
    tops = {PurePosixPath(f.path).parts[0] for f in files if len(PurePosixPath(f.path).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(f.path).parts) > 1 for f in files):
        return [
            SourceFile(str(PurePosixPath(*PurePosixPath(f.path).parts[1:])), f.size, f.read)
            for f in files
        ]
    return files


def _checked(files: list[SourceFile], *, max_files: int, max_total_bytes: int) -> list[SourceFile]:
    if len(files) > max_files:
        raise UnsafeSource(f"the upload has {len(files):,} files; the limit is {max_files:,}")
    total = sum(f.size for f in files)
    if total > max_total_bytes:
        raise UnsafeSource(
            f"the upload unpacks to {total:,} bytes; the limit is {max_total_bytes:,}"
        )
    return sorted(_strip_common_root(files), key=lambda f: f.path)


def files_from_folder(folder: Path, *, max_files: int, max_total_bytes: int) -> list[SourceFile]:
    """Every regular file below ``folder`` (hidden files and folders skipped)."""
    if not folder.is_dir():
        raise UnsafeSource(f"not a folder: {folder}")
    files = []
    for path in folder.rglob("*"):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and not path.is_symlink() and not _is_ignored(relative):
            files.append(SourceFile(str(relative), path.stat().st_size, path.read_bytes))
    return _checked(files, max_files=max_files, max_total_bytes=max_total_bytes)


def files_from_zip(archive, *, max_files: int, max_total_bytes: int) -> list[SourceFile]:
    """Members of a zip archive (a path or a binary file object); sizes are checked first."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeSource(f"not a readable zip archive ({error})") from error
    files = []
    for info in zipped.infolist():
        path = _clean_path(info.filename)
        if not info.is_dir() and not _is_ignored(path):

            def read(info: zipfile.ZipInfo = info) -> bytes:
                return zipped.read(info)

            files.append(SourceFile(str(path), info.file_size, read))
    return _checked(files, max_files=max_files, max_total_bytes=max_total_bytes)


def files_from_uploads(
    uploads: Iterable, *, max_files: int, max_total_bytes: int
) -> list[SourceFile]:
    """Django ``UploadedFile`` objects; a folder upload keeps its relative paths in ``name``."""
    files = []
    for upload in uploads:
        path = _clean_path(upload.name)
        if not _is_ignored(path):

            def read(upload=upload) -> bytes:
                upload.seek(0)
                return upload.read()

            files.append(SourceFile(str(path), upload.size, read))
    return _checked(files, max_files=max_files, max_total_bytes=max_total_bytes)
