"""Every download the platform offers has a meaningful file name and the right content type.

The walk goes over every GET URL of the permission matrix (``test_permissions``): a URL that
answers with an attachment and has no entry in ``expected_downloads`` fails, and so does an
entry that is not found. Each file a report links to is fetched as well.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from studyapp.models import Artifact
from studyapp.services.artifacts import artifact_save
from studyapp.storage import store_file
from tests.integration.studyapp import test_permissions
from tests.integration.studyapp.test_permissions import client_for, full_matrix, request, url_for

pytestmark = pytest.mark.django_db
world = test_permissions.world  # the fixture: the permission matrix's study, users and URLs
CSV, ZIP, BINARY = "text/csv; charset=utf-8", "application/zip", "application/octet-stream"
REPORT_FILES = {  # a file of the report -> its download name after the slug, and its type
    "report.pdf": ("report.pdf", "application/pdf"),
    "results.json": ("report-results.json", "application/json"),
    "matrices.npz": ("report-matrices.npz", BINARY),
    "rdms_rsatoolbox.pkl": ("report-rdms_rsatoolbox.pkl", BINARY),
    "triplets.csv": ("report-triplets.csv", CSV),
    "tables/model_comparison.csv": ("report-tables-model_comparison.csv", CSV),
}


def expected_downloads(world) -> dict:
    slug, (relevance,), (report,) = (
        world.study.slug,
        world.urls["artifact"],
        world.urls["report-artifact"],
    )
    return {
        reverse("research-responses-csv", args=[slug]): (f"{slug}-responses.csv", CSV),
        reverse("research-participants-csv", args=[slug]): (f"{slug}-participants.csv", CSV),
        reverse("research-attributes-csv", args=[slug]): (
            f"{slug}-participant-attributes.csv",
            CSV,
        ),
        reverse("research-report-file", args=[slug, "report.pdf"]): (
            f"{slug}-report.pdf",
            "application/pdf",
        ),
        reverse("research-artifact-download", args=[relevance]): (
            f"{slug}-relevance-{relevance}.npz",
            BINARY,
        ),
        reverse("research-artifact-download", args=[report]): (f"{slug}-report.zip", ZIP),
    }


def attachment(response) -> tuple[str, str] | None:
    disposition = response.get("Content-Disposition", "")
    if not disposition.startswith("attachment"):
        return None
    filename = disposition.split("filename=", 1)[1].strip('"')
    return filename, response["Content-Type"]


@pytest.mark.parametrize("mode", ["django", "x-accel-redirect"])
def test_every_download_url_has_its_name_and_type(world, settings, mode):
    settings.FILES_SERVE_MODE = mode
    client = client_for("owner", world)
    found = {}
    for route, method, key in full_matrix():
        if method != "get" or route.startswith("admin/"):
            continue
        url = url_for(world, route, key)
        response = request(client, method, url, route)
        if (named := attachment(response)) is not None:
            found[url] = named
    assert found == expected_downloads(world)


def test_every_file_of_a_report_downloads_with_its_name_and_type(world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("index.html", "<html>report</html>")
        for name in REPORT_FILES:
            zipped.writestr(name, "data")
    study = world.study
    name, sha = store_file("reports/full.zip", buffer.getvalue())
    artifact_save(
        study=study,
        kind=Artifact.Kind.REPORT,
        face_model=None,
        stimulus_set=study.stimulus_set,
        method="report",
        params={"full": True},
        code_version="v",
        file_name=name,
        sha256=sha,
        summary={},
        job=None,
    )
    client = client_for("viewer", world)
    for member, (filename, content_type) in REPORT_FILES.items():
        response = client.get(reverse("research-report-file", args=[study.slug, member]))
        assert attachment(response) == (f"{study.slug}-{filename}", content_type), member
    page = client.get(reverse("research-report", args=[study.slug]))
    assert (attachment(page), page["Content-Type"]) == (None, "text/html; charset=utf-8")


def test_a_report_stored_under_another_suffix_still_downloads_as_a_zip(world):
    """The name and type of a report come from its kind, not from the name of its stored file."""
    report = Artifact.objects.get(pk=world.urls["report-artifact"][0])
    old_name, _ = store_file("jobs/old/batch-00000-attempt-1.pt", b"PK\x03\x04")
    Artifact.objects.filter(pk=report.pk).update(file=old_name)
    response = client_for("owner", world).get(
        reverse("research-artifact-download", args=[report.pk])
    )
    assert attachment(response) == (f"{world.study.slug}-report.zip", ZIP)
