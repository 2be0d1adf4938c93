"""Stimulus imports that a worker runs: those with the face options, which prepare each photo
with dlib's networks (about 0.1 s a photo on a CPU, so minutes for a large set, longer than a
web request should take). The request stages the upload as one zip in private storage and
sends the import to a worker (``dispatch.IMPORT_TASK``); the worker imports it with
``stimulus_set_import`` (all or nothing, as in the request), records progress per photo, and
either links the created set or lists every problem. The staged zip is deleted once finished.
"""

import tempfile
import uuid
import zipfile

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from studyapp.models import StimulusImport, StimulusSet
from studyapp.services.dispatch import IMPORT_TASK, enqueue, message_take
from studyapp.services.stimuli import (
    ImportReport,
    Problem,
    StimulusImportRejected,
    name_problems,
    stimulus_set_import,
)
from studyapp.stimulus_sources import SourceFile, UnreadableFile, UnsafeSource, files_from_zip


def stimulus_import_stage(
    *,
    name: str,
    files: list[SourceFile],
    options: dict,
    description: str = "",
    metadata_csv: bytes | None = None,
    user=None,
) -> StimulusImport:
    """Stage the upload's files as one zip and send the import to a worker; ``options``:
    ``stimulus_set_import``'s label_from_folder, align_faces and derive_part_masks.

    Refused at once (StimulusImportRejected, nothing staged): a name that a set or another
    unfinished import has, and files that cannot be read from the upload.
    """
    problems = name_problems(name)
    unfinished = StimulusImport.objects.exclude(status__in=StimulusImport.FINISHED)
    if unfinished.filter(name=name).exists():
        problems.append(Problem(name, "an import of this name is already under way"))
    with tempfile.TemporaryFile() as staged:
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_STORED) as archive:
            for source in files:
                try:
                    archive.writestr(
                        source.path, source.read(limit=settings.STIMULUS_MAX_FILE_BYTES)
                    )
                except UnreadableFile as error:
                    problems.append(Problem(source.path, str(error)))
        if problems:
            raise StimulusImportRejected(problems)
        staged.seek(0)
        upload = default_storage.save(f"imports/{uuid.uuid4().hex}.zip", File(staged))
    try:
        with transaction.atomic():
            row = StimulusImport.objects.create(
                name=name,
                description=description,
                options=options,
                upload=upload,
                metadata_csv=metadata_csv,
                created_by=user,
            )
            enqueue(IMPORT_TASK, row.pk)
    except Exception:
        default_storage.delete(upload)
        raise
    return row


def stimulus_import_take(*, import_id: int, dispatch: int) -> StimulusImport | None:
    """Mark the import running for this message; None if it is finished or the message is an
    old copy (a finished import's staged zip is deleted then, if a crash left it)."""
    with transaction.atomic():
        row = StimulusImport.objects.select_for_update().get(pk=import_id)
        if row.is_finished:
            _upload_delete(row)
            return None
        if not message_take(model=StimulusImport, pk=import_id, dispatch=dispatch):
            return None
        row.status = StimulusImport.Status.RUNNING
        row.save(update_fields=["status"])
        return row


def stimulus_import_run(row: StimulusImport) -> None:
    """Import the staged upload; the import ends succeeded (set linked) or failed (problems).

    Database and broker errors propagate (the task retries); a crash before the end leaves the
    import running, and its message is delivered again (the import starts over: nothing of a
    failed attempt is kept).
    """
    limits = {
        "max_files": settings.STIMULUS_MAX_FILES,
        "max_total_bytes": settings.STIMULUS_MAX_UPLOAD_BYTES,
    }

    def progress(done: int, total: int) -> None:
        StimulusImport.objects.filter(pk=row.pk).update(progress_done=done, progress_total=total)

    def succeeded(stimulus_set: StimulusSet, report: ImportReport) -> None:
        _finish(row, stimulus_set=stimulus_set, duplicates=len(report.duplicates))

    try:
        with default_storage.open(row.upload, "rb") as staged:
            stimulus_set_import(
                name=row.name,
                description=row.description,
                files=files_from_zip(staged, strip_root=False, **limits),
                metadata_csv=None if row.metadata_csv is None else bytes(row.metadata_csv),
                progress=progress,
                on_created=succeeded,
                **row.options,
            )
    except StimulusImportRejected as rejected:
        _finish(row, problems=[str(p) for p in rejected.problems])
    except UnsafeSource as error:  # the staged zip was written by the request: not expected
        _finish(row, problems=[f"upload: {error}"])
    _upload_delete(row)


def _finish(row: StimulusImport, *, problems=(), stimulus_set=None, duplicates: int = 0) -> None:
    """End the import once: an import already finished keeps its outcome."""
    status = StimulusImport.Status.FAILED if problems else StimulusImport.Status.SUCCEEDED
    unfinished = StimulusImport.objects.exclude(status__in=StimulusImport.FINISHED)
    unfinished.filter(pk=row.pk).update(
        status=status,
        problems=list(problems),
        stimulus_set=stimulus_set,
        duplicates=duplicates,
        finished_at=timezone.now(),
    )


def stimulus_import_fail(*, import_id: int, error: Exception) -> None:
    """An error that is not a problem of a file (a full disk, a staged zip the worker cannot
    find, a bug): fail the import with it, so that it does not wait for ever (an import that
    succeeded before the error stays succeeded)."""
    row = StimulusImport.objects.get(pk=import_id)
    _finish(row, problems=[f"the import stopped: {type(error).__name__}: {error}"])
    _upload_delete(row)


def _upload_delete(row: StimulusImport) -> None:
    if row.upload:
        default_storage.delete(row.upload)
        StimulusImport.objects.filter(pk=row.pk).update(upload="")
