"""Test data built through the platform's own services (no hand-written rows where avoidable)."""

import io
import itertools
import math
import os
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studyapp.models import Artifact, Job, JobBatch, Participant, StimulusSet, Study
from studyapp.services.artifacts import artifact_save
from studyapp.services.participants import ExternalIds, participant_start
from studyapp.services.stimuli import stimulus_set_import
from studyapp.stimulus_sources import SourceFile
from studyapp.storage import store_arrays, store_file

_names = itertools.count()


def png_bytes(index: int, size: int = 32, fmt: str = "PNG") -> bytes:
    """A small distinct image (colour and a mark depend on ``index``)."""
    image = Image.new("RGB", (size, size), ((index * 37) % 256, (index * 91) % 256, 120))
    ImageDraw.Draw(image).rectangle([index % size, 2, index % size + 4, 8], fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def aged_file(path: Path, age_s: float, data: bytes = b"half") -> Path:
    """A file (its folders made) last written ``age_s`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def source(path: str, data: bytes) -> SourceFile:
    return SourceFile(path, len(data), lambda: io.BytesIO(data))


def make_stimulus_set(n: int = 12, *, name: str | None = None, labels: bool = True) -> StimulusSet:
    files = [source(f"face{i:03d}.png", png_bytes(i)) for i in range(n)]
    if labels:
        rows = "filename,identity,gender\n" + "".join(
            f"face{i:03d}.png,id{i // 2},{'female' if i % 2 else 'male'}\n" for i in range(n)
        )
        files.append(source("metadata.csv", rows.encode()))
    stimulus_set, _ = stimulus_set_import(name=name or f"set-{next(_names)}", files=files)
    return stimulus_set


def make_study(stimulus_set: StimulusSet | None = None, **fields) -> Study:
    defaults = {
        "slug": f"study-{next(_names)}",
        "title": "Test study",
        "status": Study.Status.LIVE,
        "trial_types": ["triplet"],
        "trials_per_participant": 10,
        "target_participants": 50,
        "practice_trials": 1,
        "break_every": 5,
        "repeat_rate": 0.1,
        "catch_rate": 0.1,
        "consent_text": "Do you agree?",
        "instructions": "Choose the odd one out.",
        "debrief": "Thanks.",
        "completion_code": "CODE123",
        "redirect_url": "https://example.org/done?cc=CODE123",
    }
    defaults.update(fields)
    return Study.objects.create(stimulus_set=stimulus_set or make_stimulus_set(), **defaults)


def analysis_posted(study: Study | None = None) -> dict:
    """The study form's analysis fields as a browser posts them (the study's or the defaults;
    unchecked boxes and empty numbers left out)."""
    from studyapp.forms import StudyForm
    from studyapp.forms_analysis import ANALYSIS_PREFIX

    initial = StudyForm(instance=study).initial
    return {
        name: value
        for name, value in initial.items()
        if name.startswith(ANALYSIS_PREFIX) and value is not None and value is not False
    }


def start_participant(study: Study, pid: str | None = None) -> Participant:
    external = ExternalIds(pid or f"pid-{next(_names)}", source=Participant.Source.PROLIFIC)
    return participant_start(study=study, external=external)


def spread_positions(items) -> dict:
    """Arrangement positions for ``items`` (stimulus ids), spread over the arena by id."""
    return {
        str(i): [
            round((0.2 + 0.07 * (i % 11)) * math.cos(2.4 * i), 6),
            round((0.2 + 0.07 * (i % 11)) * math.sin(2.4 * i), 6),
        ]
        for i in items
    }


def answer_for(trial, study: Study, *, choose: int = 0) -> dict:
    """A valid response body for a trial (plan entry dict or Trial row)."""
    trial_type = trial["type"] if isinstance(trial, dict) else trial.trial_type
    items = trial["items"] if isinstance(trial, dict) else trial.items
    index = trial["index"] if isinstance(trial, dict) else trial.index
    body = {"trial": index, "rt_ms": 850.0 + index}
    if trial_type == "rating":
        low, high = study.rating_range
        body["rating"] = low + (index % (high - low + 1))
    elif trial_type == "afc":
        body["choice"] = items[1 + choose % 2]
    elif trial_type == "arrangement":
        body["arrangement"] = {"positions": spread_positions(items), "moves": []}
    else:
        body["choice"] = items[choose % 3]
    return body


def make_relevance_artifact(stimulus_set, *, face_model=None, job=None, stimuli: int = 1):
    """A stored relevance artifact: zero maps for the set's first ``stimuli`` images."""
    ids = list(stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)[:stimuli])
    name, sha = store_arrays(
        "artifacts/relevance.npz",
        {"maps": np.zeros((len(ids), 4, 4), np.float32), "stimulus_ids": np.array(ids)},
    )
    return artifact_save(
        kind=Artifact.Kind.RELEVANCE,
        face_model=face_model,
        stimulus_set=stimulus_set,
        method="lrp",
        params={},
        code_version="v",
        file_name=name,
        sha256=sha,
        summary={},
        job=job,
    )


def report_zip(text: str) -> bytes:
    """A report zip as the report job writes it (an HTML page and a PDF)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("index.html", f"<html>{text}</html>")
        zipped.writestr("report.pdf", "%PDF-1.4")
    return buffer.getvalue()


def make_report_artifact(
    study, text: str = "report", user=None, job=None, data: bytes | None = None
) -> Artifact:
    """A report as the report job leaves it: the job's batch zip, recorded as the artifact.

    Without ``job`` a finished report job with its batch is made for it; ``data`` is the zip
    (default: a minimal one saying `text`).
    """
    data = report_zip(text) if data is None else data
    if job is None:
        job = Job.objects.create(
            kind=Job.Kind.REPORT,
            stimulus_set=study.stimulus_set,
            study=study,
            status=Job.Status.SUCCEEDED,
            created_by=user,
        )
        name, sha = store_file(f"jobs/{job.pk}/batch-00000-attempt-1.zip", data)
        JobBatch.objects.create(
            job=job, index=0, stimulus_ids=[], status="done", result=name, result_sha256=sha
        )
    else:
        name, sha = store_file("reports/test.zip", data)
    return artifact_save(
        study=study,
        kind=Artifact.Kind.REPORT,
        face_model=None,
        stimulus_set=study.stimulus_set,
        method="report",
        params={},
        code_version="v",
        file_name=name,
        sha256=sha,
        summary={},
        job=job,
    )
