"""Import a stimulus set: validate every file first, then store everything or nothing."""

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.storage.base import Storage
from django.db import transaction

from studyapp.image_checks import (
    IMAGE_SUFFIXES,
    ImageInfo,
    InvalidImage,
    browser_ready_bytes,
    inspect_image,
)
from studyapp.models import Stimulus, StimulusSet
from studyapp.services.stimulus_faces import FaceNotFound, FacePreparer, PreparedStimulus
from studyapp.stimulus_sources import SourceFile, UnreadableFile
from studyapp.storage import stimulus_storage

METADATA_FILE = "metadata.csv"
PARTS_FILE = "parts.json"
GENERATOR_FILE = "params.json"  # facegen's per-image face parameters (the dissection dictionary)
FILENAME_COLUMNS = ("filename", "file", "image", "stimulus")


@dataclass(frozen=True)
class Problem:
    """Why one file (or the metadata) stops the import."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class StimulusImportRejected(Exception):
    """Nothing was imported; ``problems`` lists every reason, file by file."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems[:5]))
        self.problems = problems


@dataclass
class ImportReport:
    created: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (name, kept name)
    ignored: list[str] = field(default_factory=list)  # not images, not metadata


@dataclass(frozen=True)
class _Checked:
    name: str
    source: SourceFile
    info: ImageInfo
    labels: dict
    mask: SourceFile | None
    prepared: PreparedStimulus | None = None


def stimulus_set_import(
    *,
    name: str,
    files: list[SourceFile],
    description: str = "",
    metadata_csv: bytes | None = None,
    label_from_folder: str = "",
    align_faces: bool = False,
    derive_part_masks: bool = False,
    progress: Callable[[int, int], None] | None = None,
    on_created: Callable[[StimulusSet, ImportReport], None] | None = None,
) -> tuple[StimulusSet, ImportReport]:
    """Create a stimulus set from image files plus optional labels and part masks.

    Layout understood: images anywhere (names = path without extension, a leading ``images/``
    dropped); ``metadata.csv`` (first column, or one named filename/file/image/stimulus, names the
    image; other columns are labels); ``masks/<name>.png`` part masks with ``parts.json``
    listing the part names. ``label_from_folder`` stores each image's folder name as that label.

    ``align_faces`` stores dlib's aligned 150 px face chip of each photo instead of the photo;
    ``derive_part_masks`` makes its part mask from 68 landmarks (`stimulus_faces`). With either,
    a photo without a detectable face is a problem of that file.

    ``progress(done, total)`` reports how many images are checked (and prepared) so far;
    ``on_created(stimulus_set, report)`` inside the transaction that creates the set.
    """
    problems = name_problems(name)
    report = ImportReport()
    by_path: dict[str, SourceFile] = {}
    for source in files:
        if source.path in by_path:
            problems.append(Problem(source.path, "is in the upload twice (two different files?)"))
        by_path[source.path] = source
    if metadata_csv is None and METADATA_FILE in by_path:
        metadata_csv = _read(by_path.pop(METADATA_FILE), problems)
    parts_json = by_path.pop(PARTS_FILE, None)
    generated = _generator_params(by_path.pop(GENERATOR_FILE, None), problems, report)
    masks: dict[str, SourceFile] = {}
    images: dict[str, SourceFile] = {}
    for path, source in by_path.items():
        if path.startswith("masks/"):
            _add_named(masks, _stimulus_name(path, "masks"), source, problems)
        elif PurePosixPath(path).suffix.lower() not in IMAGE_SUFFIXES:
            report.ignored.append(path)
        else:
            _add_named(images, _stimulus_name(path, "images"), source, problems)

    if not images:
        problems.append(Problem("(upload)", "no image files found"))
    labels, label_columns = _labels(images, metadata_csv, label_from_folder, problems)
    preparer = None
    if align_faces or derive_part_masks:
        if derive_part_masks and masks:
            problems.append(Problem("masks/", "the upload has part masks; do not also derive them"))
        try:
            preparer = FacePreparer(align=align_faces, part_masks=derive_part_masks)
        except ValueError as error:  # the models package is not installed
            raise StimulusImportRejected([Problem("(face options)", str(error))]) from error
    part_names = preparer.part_names if preparer else _part_names(parts_json, masks, problems)
    checked = _check_images(images, labels, masks, problems, report, preparer, progress)
    if problems:
        raise StimulusImportRejected(problems)
    stimulus_set = _store(
        name, description, checked, label_columns, part_names, report, generated, on_created
    )
    return stimulus_set, report


def name_problems(name: str) -> list[Problem]:
    """Why a new set may not take ``name`` (empty when it may)."""
    if StimulusSet.objects.filter(name=name).exists():
        return [Problem(name, "a stimulus set with this name already exists")]
    return []


def _read(source: SourceFile, problems: list[Problem]) -> bytes | None:
    """The file's bytes within the per-file limit, or None with the reason added to ``problems``."""
    try:
        return source.read(limit=settings.STIMULUS_MAX_FILE_BYTES)
    except UnreadableFile as error:
        problems.append(Problem(source.path, str(error)))
        return None


def _add_named(
    named: dict[str, SourceFile], name: str, source: SourceFile, problems: list[Problem]
) -> None:
    """Two files whose paths give one stimulus name would silently merge: refuse instead;
    a name longer than the database holds is refused too."""
    longest = Stimulus._meta.get_field("name").max_length
    if len(name) > longest:
        problems.append(
            Problem(
                source.path, f"gives a stimulus name of {len(name)} characters; at most {longest}"
            )
        )
    elif name in named:
        problems.append(
            Problem(
                source.path,
                f"gives the stimulus name {name!r}, as does {named[name].path}; rename one",
            )
        )
    else:
        named[name] = source


def _stimulus_name(path: str, folder: str) -> str:
    pure = PurePosixPath(path)
    if pure.parts[0] == folder and len(pure.parts) > 1:
        pure = PurePosixPath(*pure.parts[1:])
    return str(pure.with_suffix(""))


def _labels(
    images: dict[str, SourceFile],
    metadata_csv: bytes | None,
    label_from_folder: str,
    problems: list[Problem],
) -> tuple[dict[str, dict], list[str]]:
    labels: dict[str, dict] = {name: {} for name in images}
    columns: list[str] = []
    if metadata_csv is not None:
        columns = _labels_from_csv(images, metadata_csv, labels, problems)
    if label_from_folder:
        if label_from_folder in columns:
            problems.append(
                Problem(METADATA_FILE, f"column {label_from_folder!r} also comes from folders")
            )
        for name, source in images.items():
            labels[name][label_from_folder] = PurePosixPath(source.path).parent.name
        columns.append(label_from_folder)
    return labels, columns


def _labels_from_csv(
    images: dict[str, SourceFile], data: bytes, labels: dict[str, dict], problems: list[Problem]
) -> list[str]:
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except UnicodeDecodeError:
        problems.append(Problem(METADATA_FILE, "is not UTF-8 text"))
        return []
    if not rows or not rows[0]:
        problems.append(Problem(METADATA_FILE, "is empty"))
        return []
    header = [h.strip() for h in rows[0]]
    key = next((i for i, h in enumerate(header) if h.lower() in FILENAME_COLUMNS), 0)
    columns = [h for i, h in enumerate(header) if i != key]
    if len(set(header)) != len(header) or not all(header):
        problems.append(
            Problem(METADATA_FILE, f"column names must be unique and non-empty: {header}")
        )
        return []
    lookup = _name_lookup(images)
    seen: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(METADATA_FILE, f"line {line} has {len(row)} cells, not {len(header)}")
            )
            continue
        name = lookup.get(row[key].strip())
        if name is None:
            problems.append(Problem(METADATA_FILE, f"line {line}: no image named {row[key]!r}"))
        elif name in seen:
            problems.append(Problem(METADATA_FILE, f"line {line}: {row[key]!r} is listed twice"))
        else:
            seen.add(name)
            labels[name] = {
                h: c.strip() for i, (h, c) in enumerate(zip(header, row, strict=True)) if i != key
            }
    for name in sorted(set(images) - seen):
        problems.append(Problem(images[name].path, f"has no row in {METADATA_FILE}"))
    return columns


def _name_lookup(images: dict[str, SourceFile]) -> dict[str, str]:
    """Ways a CSV may name an image: full path, path without ``images/``, name, unique basename."""
    lookup: dict[str, str] = {}
    basenames: dict[str, list[str]] = {}
    for name, source in images.items():
        for alias in (source.path, name, f"{name}{PurePosixPath(source.path).suffix}"):
            lookup[alias] = name
        basenames.setdefault(PurePosixPath(source.path).name, []).append(name)
    for basename, names in basenames.items():
        if len(names) == 1:
            lookup.setdefault(basename, names[0])
    return lookup


def _part_names(
    parts_json: SourceFile | None, masks: dict[str, SourceFile], problems: list[Problem]
) -> list[str]:
    if not masks:
        return []
    data = _read(parts_json, problems) if parts_json else None
    if parts_json and data is None:
        return []
    try:
        names = json.loads(data) if data is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.append(Problem(PARTS_FILE, f"is not valid JSON ({error})"))
        return []
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        problems.append(Problem(PARTS_FILE, "must list the part names (masks/ was given)"))
        return []
    return names


def _generator_params(
    source: SourceFile | None, problems: list[Problem], report: ImportReport
) -> dict[str, dict]:
    """Stimulus name -> ``{"facegen": {"face": ..., "view": ...}}`` from facegen's
    ``params.json`` (``images`` keyed by file name, each with its ``face`` parameters); any
    other ``params.json`` (objectgen's, say) is ignored as before. A facegen file whose face
    parameters facegen refuses stops the import."""
    from facegen.params import FaceParams  # numpy only

    data = _read(source, problems) if source else None
    if data is None:
        return {}
    try:
        content = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        content = None
    images = content.get("images") if isinstance(content, dict) else None
    if not (
        isinstance(images, dict)
        and images
        and all(isinstance(p, dict) and "face" in p for p in images.values())
    ):
        report.ignored.append(GENERATOR_FILE)
        return {}
    generated = {}
    for file, record in images.items():
        try:
            FaceParams(**record["face"])
        except (TypeError, ValueError) as error:
            problems.append(Problem(GENERATOR_FILE, f"{file}: {error}"))
            continue
        generated[PurePosixPath(file).stem] = {
            "facegen": {"face": record["face"], "view": record.get("view")}
        }
    return generated


def _check_images(
    images: dict[str, SourceFile],
    labels: dict[str, dict],
    masks: dict[str, SourceFile],
    problems: list[Problem],
    report: ImportReport,
    preparer: FacePreparer | None,
    progress: Callable[[int, int], None] | None,
) -> list[_Checked]:
    limits = {
        "max_bytes": settings.STIMULUS_MAX_FILE_BYTES,
        "max_pixels": settings.STIMULUS_MAX_PIXELS,
    }
    kept: dict[str, str] = {}
    checked = []
    for done, name in enumerate(sorted(images)):
        if progress is not None:
            progress(done, len(images))
        source = images[name]
        data = _read(source, problems)
        if data is None:
            continue
        try:
            info = inspect_image(data, **limits)
        except InvalidImage as error:
            problems.append(Problem(source.path, str(error)))
            continue
        if info.sha256 in kept:
            report.duplicates.append((name, kept[info.sha256]))
            continue
        kept[info.sha256] = name
        mask = masks.get(name)
        if masks and mask is None:
            problems.append(Problem(source.path, "has no part mask in masks/"))
        elif mask is not None:
            _check_mask(mask, info, problems, limits)
        prepared = None
        if preparer is not None:
            try:
                prepared = preparer(data)
                stored = inspect_image(prepared.image_png, **limits)
            except (FaceNotFound, InvalidImage) as error:
                problems.append(Problem(source.path, str(error)))
                continue
            info = ImageInfo(info.sha256, info.format, stored.width, stored.height, stored.mode)
        checked.append(_Checked(name, source, info, labels.get(name, {}), mask, prepared))
    if progress is not None:
        progress(len(images), len(images))
    for name in sorted(set(masks) - set(images)):
        problems.append(Problem(masks[name].path, "is a mask without an image"))
    return checked


def _check_mask(mask: SourceFile, image: ImageInfo, problems: list[Problem], limits: dict) -> None:
    data = _read(mask, problems)
    if data is None:
        return
    try:
        info = inspect_image(data, **limits)
    except InvalidImage as error:
        problems.append(Problem(mask.path, str(error)))
        return
    if info.format != "PNG" or info.mode not in {"L", "P"}:
        problems.append(
            Problem(mask.path, f"must be an 8-bit label PNG; got {info.format} {info.mode}")
        )
    elif (info.width, info.height) != (image.width, image.height):
        problems.append(
            Problem(
                mask.path,
                f"is {info.width}×{info.height}; its image is {image.width}×{image.height}",
            )
        )


def _store(
    name: str,
    description: str,
    checked: list[_Checked],
    label_columns: list[str],
    part_names: list[str],
    report: ImportReport,
    generated: dict[str, dict],
    on_created: Callable[[StimulusSet, ImportReport], None] | None,
) -> StimulusSet:
    """Write files (content-addressed), then all rows in one transaction; undo files on failure."""
    written: list[tuple[Storage, str]] = []
    try:
        rows = []
        for item in checked:
            if item.prepared is not None:
                stored = item.prepared.image_png
                digest, suffix = hashlib.sha256(stored).hexdigest(), ".png"
            else:
                data = item.source.read(limit=settings.STIMULUS_MAX_FILE_BYTES)
                stored = browser_ready_bytes(data, item.info)
                digest, suffix = item.info.sha256, item.info.stored_suffix
            image_path = _save_once(
                stimulus_storage(), f"stimuli/{digest[:2]}/{digest}{suffix}", stored, written
            )
            mask_path = ""
            mask_bytes = item.prepared.mask_png if item.prepared is not None else None
            if item.mask is not None:
                mask_bytes = item.mask.read(limit=settings.STIMULUS_MAX_FILE_BYTES)
            if mask_bytes is not None:
                mask_path = _save_once(
                    default_storage,
                    f"masks/{hashlib.sha256(mask_bytes).hexdigest()}.png",
                    mask_bytes,
                    written,
                )
            rows.append((item, image_path, mask_path))
        with transaction.atomic():
            stimulus_set = StimulusSet.objects.create(
                name=name,
                description=description,
                label_columns=label_columns,
                part_names=part_names,
            )
            Stimulus.objects.bulk_create(
                Stimulus(
                    stimulus_set=stimulus_set,
                    name=item.name,
                    image=image_path,
                    part_mask=mask_path,
                    sha256=item.info.sha256,
                    original_format=item.info.format,
                    width=item.info.width,
                    height=item.info.height,
                    labels=item.labels,
                    preparation=item.prepared.record
                    if item.prepared is not None
                    else generated.get(item.name, {}),
                )
                for item, image_path, mask_path in rows
            )
            report.created = len(checked)
            if on_created is not None:
                on_created(stimulus_set, report)
    except Exception:
        for storage, path in written:
            storage.delete(path)
        raise
    return stimulus_set


def _save_once(storage: Storage, path: str, data: bytes, written: list[tuple[Storage, str]]) -> str:
    """Store under a content-derived path; an existing file there is the same content.

    Stimulus images go to the stimulus storage, part masks to the private one.
    """
    if not storage.exists(path):
        saved = storage.save(path, ContentFile(data))
        written.append((storage, saved))
        return saved
    return path
