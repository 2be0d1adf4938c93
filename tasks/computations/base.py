"""What every kind of job provides to the generic job tasks (``tasks.jobs``)."""

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from modelsvc import mean_fill_value
from studyapp.models import Job, JobBatch
from studyapp.services.jobs import batch_progress
from tasks.items import stimulus_items

# Images per model call: every call is padded to this size (modelsvc.run_batched), so a
# stimulus gets bit-identical results however the job is split into batches. The job's
# progress moves after every call (`batch_progress_reporter`).
MODEL_BATCH_SIZE = settings.FACESIM_MODEL_CALL_SIZE


@dataclass(frozen=True)
class Plan:
    """Batches to run: (face model id or None for all models, stimulus ids)."""

    batches: list[tuple[int | None, list[int]]]
    total: int
    # set when nothing is left to run: every result exists, or a cpu-only kind did its work
    reused: str = ""


@dataclass(frozen=True)
class BatchOutput:
    """A batch's stored result file and the items that failed in it."""

    file_name: str
    sha256: str
    failures: list[dict] = field(default_factory=list)


class Computation:
    """One job kind: split the work, run one batch, merge the batches into artifacts."""

    def plan(self, job: Job) -> Plan:
        raise NotImplementedError

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        raise NotImplementedError

    def finalize(self, job: Job) -> str:
        """Store the artifacts; returns a note for the job (may be empty)."""
        raise NotImplementedError


def batch_progress_reporter(batch: JobBatch) -> Callable[[int], None]:
    """For ``map_over_images(on_progress=...)``: the batch's items done, into the job's bar."""
    return lambda done: batch_progress(batch_id=batch.pk, done=done)


def stimulus_ids(job: Job) -> list[int]:
    return list(job.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))


def chunks(ids: list[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.FACESIM_JOB_BATCH_SIZE
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def batch_file_name(job: Job, batch: JobBatch, suffix: str = "npz") -> str:
    return f"jobs/{job.pk}/batch-{batch.index:05d}-attempt-{batch.attempts}.{suffix}"


def failure_records(run, items) -> list[dict]:
    """``modelsvc.ImageRun`` failures as JSON rows naming the stimulus and the reason."""
    key_of = {str(item.path): item.key for item in items}
    return [{"stimulus": key_of.get(f.path, f.path), "error": f.reason} for f in run.failures]


def dataset_fill_value(ids: list[int], size: tuple[int, int]) -> list[float]:
    """Mean RGB of the stimulus set at the models' input size (the 'mean' masking fill)."""
    return list(mean_fill_value(stimulus_items(ids), size, batch_size=MODEL_BATCH_SIZE))


def zip_folder(folder: str | Path) -> bytes:
    """Every file under `folder`, deflated, named by its path relative to it (sorted)."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def zipped_json(batch: JobBatch, name: str) -> dict:
    """The JSON member `name` of a batch's zipped result."""
    with default_storage.open(batch.result.name, "rb") as handle, zipfile.ZipFile(handle) as zipped:
        return json.loads(zipped.read(name))
