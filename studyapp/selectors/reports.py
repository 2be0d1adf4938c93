"""A study's reports: zips of the folder that ``analysis.report.write_report`` writes."""

import zipfile

from django.core.files.storage import default_storage

from studyapp.models import Artifact, Study


def latest_report(*, study: Study) -> Artifact | None:
    return (
        Artifact.objects.filter(kind=Artifact.Kind.REPORT, study=study)
        .order_by("-created_at")
        .first()
    )


def report_member(artifact: Artifact, name: str) -> bytes:
    """One file of the report (KeyError when absent)."""
    with (
        default_storage.open(artifact.file.name, "rb") as handle,
        zipfile.ZipFile(handle) as zipped,
    ):
        return zipped.read(name)


def report_figures(artifact: Artifact) -> list[str]:
    """The report's figure files, in the order the report shows them."""
    with (
        default_storage.open(artifact.file.name, "rb") as handle,
        zipfile.ZipFile(handle) as zipped,
    ):
        return sorted(
            n for n in zipped.namelist() if n.startswith("figures/") and n.endswith(".png")
        )


def relevance_previews(*, study: Study, per_model: int = 6) -> list[tuple[Artifact, list[int]]]:
    """Each study model's newest relevance maps and the first stimuli to preview them on."""
    first = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)[:per_model])
    previews = []
    for face_model in study.face_models.order_by("pk"):
        artifact = (
            Artifact.objects.filter(
                kind=Artifact.Kind.RELEVANCE, face_model=face_model, stimulus_set=study.stimulus_set
            )
            .order_by("-created_at")
            .first()
        )
        if artifact is not None:
            previews.append((artifact, first))
    return previews
