"""Artifacts: stored results, unique by (study, kind, model, stimulus set, method, params,
code)."""

import hashlib
import json
import math
from functools import partial

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from studyapp.models import Artifact, FaceModel, Job, JobBatch, StimulusSet, Study
from studyapp.storage import files_delete


def params_hash(params: dict) -> str:
    """sha256 of the canonical JSON of ``params`` (key order and spacing do not matter)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_safe(value):
    """JSON for PostgreSQL: NaN and infinities (not valid JSON) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def artifact_find(
    *,
    study: Study | None = None,
    kind: str,
    face_model: FaceModel | None,
    stimulus_set: StimulusSet,
    method: str,
    params: dict,
    code_version: str,
) -> Artifact | None:
    return Artifact.objects.filter(
        study=study,
        kind=kind,
        face_model=face_model,
        stimulus_set=stimulus_set,
        method=method,
        params_hash=params_hash(params),
        code_version=code_version,
    ).first()


def artifact_save(
    *,
    study: Study | None = None,
    kind: str,
    face_model: FaceModel | None,
    stimulus_set: StimulusSet,
    method: str,
    params: dict,
    code_version: str,
    file_name: str,
    sha256: str,
    summary: dict,
    job: Job | None,
) -> Artifact:
    """Record a stored file as an artifact; if an equal artifact exists, keep that one.

    A task delivered twice may store its file twice; the unique constraint keeps one row and
    the extra file is deleted.
    """
    key = {
        "study": study,
        "kind": kind,
        "face_model": face_model,
        "stimulus_set": stimulus_set,
        "method": method,
        "params": params,
        "code_version": code_version,
    }
    try:
        with transaction.atomic():
            return Artifact.objects.create(
                **{**key, "params": json_safe(params)},
                params_hash=params_hash(params),
                file=file_name,
                sha256=sha256,
                summary=json_safe(summary),
                job=job,
            )
    except IntegrityError:
        existing = artifact_find(**key)
        if existing is None:
            raise
        if existing.file.name != file_name:
            default_storage.delete(file_name)
        return existing


def study_artifacts_delete(*, study: Study) -> int:
    """Delete what was made from a study's participant data: its artifacts (reports) and its
    report jobs, and their files once the transaction commits. Returns the artifact count.

    The study's other jobs made shared artifacts (model outputs only), which stay.
    """
    artifacts = Artifact.objects.filter(study=study)
    jobs = Job.objects.filter(study=study, kind=Job.Kind.REPORT)
    names = {
        *artifacts.values_list("file", flat=True),
        *JobBatch.objects.filter(job__in=jobs).values_list("result", flat=True),
    }
    count = artifacts.count()
    artifacts.delete()
    jobs.delete()
    transaction.on_commit(partial(files_delete, sorted(names)))
    return count
