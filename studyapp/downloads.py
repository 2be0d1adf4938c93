"""The file name and content type of every download the platform offers: one place decides both.

Names start with the study's slug, so downloads from several studies do not collide in a
folder; the type follows from the name's suffix through one table, never from the system's
``mimetypes`` (Debian maps ``.pt`` to a video-game page table, for one).
"""

from dataclasses import dataclass

from django.utils.text import slugify

from studyapp.models import Artifact, Study

OCTET_STREAM = "application/octet-stream"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
    "png": "image/png",
    "zip": "application/zip",
    # numpy's arrays, PyTorch's weights and pickles are read by their libraries, not opened
    "npz": OCTET_STREAM,
    "pt": OCTET_STREAM,
    "pth": OCTET_STREAM,
    "pkl": OCTET_STREAM,
}


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str


def download_named(filename: str) -> Download:
    """``filename`` with the content type its suffix calls for (unknown: octet-stream)."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return Download(filename, CONTENT_TYPES.get(suffix, OCTET_STREAM))


def study_export_download(study: Study, name: str) -> Download:
    """A study's export: ``responses.csv`` -> ``<slug>-responses.csv``."""
    return download_named(f"{study.slug}-{name}")


def report_file_download(study: Study, name: str) -> Download:
    """A file of the study's report: ``report.pdf`` -> ``<slug>-report.pdf``,
    ``tables/x.csv`` -> ``<slug>-report-tables-x.csv``."""
    flat = name.replace("/", "-")
    stem = flat if flat.startswith("report.") else f"report-{flat}"
    return download_named(f"{study.slug}-{stem}")


def artifact_file_download(artifact: Artifact) -> Download:
    """A report is ``<slug>-report.zip`` (whatever its stored name); any other artifact is named
    by its study or stimulus set, kind, model and id, e.g. ``faces-relevance-vgg16-12.npz``."""
    study = artifact.study or (artifact.job.study if artifact.job else None)
    owner = study.slug if study is not None else slugify(artifact.stimulus_set.name)
    if artifact.kind == Artifact.Kind.REPORT:
        return download_named(f"{owner}-report.zip")
    model = f"-{slugify(artifact.face_model.name)}" if artifact.face_model else ""
    suffix = artifact.file.name.rsplit(".", 1)[-1] if "." in artifact.file.name else "bin"
    return download_named(f"{owner}-{artifact.kind}{model}-{artifact.pk}.{suffix}")
