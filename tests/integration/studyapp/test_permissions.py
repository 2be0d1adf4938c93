"""Every researcher URL for every kind of visitor: anonymous, participant, other researcher,
viewer, collaborator, owner. A new researcher URL must be added to the matrix below."""

import io
import zipfile

import numpy as np
import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from studyapp.models import Artifact, AuditEvent, Job, StudyMembership
from studyapp.services.artifacts import artifact_save
from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db
ACTORS = ("anonymous", "participant", "other", "viewer", "collaborator", "owner")
LOGIN = "login"  # a redirect to the log-in page

# (url name, method, args key) -> expected status per actor, in the order of ACTORS.
MATRIX = {
    ("research-home", "get", None): (LOGIN, LOGIN, 200, 200, 200, 200),
    ("research-study-new", "get", None): (LOGIN, LOGIN, 200, 200, 200, 200),
    ("research-study", "get", "slug"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-study-edit", "get", "slug"): (LOGIN, LOGIN, 404, 403, 200, 200),
    ("research-study-status", "post", "slug"): (LOGIN, LOGIN, 404, 403, 302, 302),
    ("research-study-clone", "post", "slug"): (LOGIN, LOGIN, 404, 403, 302, 302),
    ("research-members", "get", "slug"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-study-delete", "post", "slug"): (LOGIN, LOGIN, 404, 403, 403, 302),
    ("research-study-chart", "get", "chart"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-responses-csv", "get", "slug"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-models", "get", None): (LOGIN, LOGIN, 200, 200, 200, 200),
    ("research-jobs", "get", None): (LOGIN, LOGIN, 200, 200, 200, 200),
    ("research-jobs-status", "get", None): (LOGIN, LOGIN, 200, 200, 200, 200),
    ("research-job", "get", "job"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-job-action", "post", "job-action"): (LOGIN, LOGIN, 404, 403, 302, 302),
    ("research-artifact", "get", "artifact"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-artifact-download", "get", "artifact"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-relevance-overlay", "get", "overlay"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-pipeline", "post", "slug"): (LOGIN, LOGIN, 404, 403, 302, 302),
    ("research-report", "get", "slug"): (LOGIN, LOGIN, 404, 200, 200, 200),
    ("research-report-file", "get", "report-pdf"): (LOGIN, LOGIN, 404, 200, 200, 200),
}


@pytest.fixture
def world(django_user_model, media_setup):
    study = make_study()
    users = {}
    for name in ("other", "viewer", "collaborator", "owner"):
        users[name] = django_user_model.objects.create_user(name, password="pw")
    for role in ("viewer", "collaborator", "owner"):
        StudyMembership.objects.create(study=study, user=users[role], role=role)
    participant = start_participant(study)
    job = Job.objects.create(
        kind="relevance",
        stimulus_set=study.stimulus_set,
        study=study,
        status="failed",
        created_by=users["owner"],
    )
    stimulus = study.stimulus_set.stimuli.first()
    from tasks.storage import store_arrays, store_file

    name, sha = store_arrays(
        "artifacts/test.npz",
        {"maps": np.zeros((1, 4, 4), np.float32), "stimulus_ids": np.array([stimulus.pk])},
    )
    artifact = artifact_save(
        kind=Artifact.Kind.RELEVANCE,
        face_model=None,
        stimulus_set=study.stimulus_set,
        method="m",
        params={},
        code_version="v",
        file_name=name,
        sha256=sha,
        summary={},
        job=job,
    )
    report_zip = io.BytesIO()
    with zipfile.ZipFile(report_zip, "w") as zipped:
        zipped.writestr("index.html", "<html>report</html>")
        zipped.writestr("report.pdf", "%PDF-1.4")
    name, sha = store_file("reports/test.zip", report_zip.getvalue())
    artifact_save(
        kind=Artifact.Kind.REPORT,
        face_model=None,
        stimulus_set=study.stimulus_set,
        method=f"report/{study.slug}",
        params={},
        code_version="v",
        file_name=name,
        sha256=sha,
        summary={},
        job=job,
    )
    args = {
        None: [],
        "slug": [study.slug],
        "chart": [study.slug, "participants"],
        "job": [job.pk],
        "job-action": [job.pk, "retry"],
        "artifact": [artifact.pk],
        "overlay": [artifact.pk, stimulus.pk],
        "report-pdf": [study.slug, "report.pdf"],
    }
    return study, users, participant, args


@pytest.fixture
def media_setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(actor, users, participant):
    client = Client()
    if actor == "participant":
        client.get(reverse("participant-runner", args=[participant.token]))  # has a session
    elif actor in users:
        client.force_login(users[actor])
    return client


def test_every_researcher_url_is_in_the_matrix():
    names = {
        name
        for name in get_resolver().reverse_dict
        if isinstance(name, str) and name.startswith("research-")
    }
    assert names == {name for name, _, _ in MATRIX}


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(world, actor, monkeypatch):
    monkeypatch.setattr("studyapp.services.jobs.enqueue", lambda *args: None)  # retry: no broker
    _study, users, participant, args = world
    for (name, method, key), expected in MATRIX.items():
        if name == "research-study-delete":
            continue  # deleting changes the world: tested on its own below
        client = client_for(actor, users, participant)
        response = getattr(client, method)(
            reverse(name, args=args[key]),
            {"status": "live"} if name == "research-study-status" else {},
        )
        wanted = expected[ACTORS.index(actor)]
        if wanted == LOGIN:
            assert response.status_code == 302, (name, actor)
            assert response["Location"].startswith("/accounts/login/"), (name, actor)
        else:
            assert response.status_code == wanted, (name, actor, response.status_code)


@pytest.mark.parametrize("actor", ACTORS)
def test_deleting_a_study(world, actor):
    study, users, participant, _args = world
    response = client_for(actor, users, participant).post(
        reverse("research-study-delete", args=[study.slug]), {"confirm_slug": study.slug}
    )
    expected = MATRIX[("research-study-delete", "post", "slug")][ACTORS.index(actor)]
    if expected == LOGIN:
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected
    deleted = not type(study).objects.filter(pk=study.pk).exists()
    assert deleted == (actor == "owner")
    if deleted:
        event = AuditEvent.objects.get(action="delete")
        assert (event.user, event.study_slug, event.detail["participants"]) == (
            users["owner"],
            study.slug,
            1,
        )


def test_audit_log_records_exports_and_status_changes(world):
    study, users, participant, args = world
    owner = client_for("owner", users, participant)
    owner.get(reverse("research-responses-csv", args=[study.slug]))
    owner.post(reverse("research-study-status", args=[study.slug]), {"status": "closed"})
    owner.get(reverse("research-artifact-download", args=args["artifact"]))
    actions = list(
        AuditEvent.objects.order_by("created_at").values_list("action", "user__username")
    )
    assert actions == [("export", "owner"), ("status", "owner"), ("export", "owner")]
    assert AuditEvent.objects.get(action="status").detail == {"before": "live", "after": "closed"}


def test_only_owners_change_membership_and_an_owner_always_remains(world):
    study, users, participant, _args = world
    url = reverse("research-members", args=[study.slug])
    client_for("collaborator", users, participant).post(
        url, {"username": "other", "role": "viewer"}
    )
    assert not StudyMembership.objects.filter(user=users["other"]).exists()
    owner = client_for("owner", users, participant)
    owner.post(url, {"username": "other", "role": "viewer"})
    assert StudyMembership.objects.get(user=users["other"]).role == "viewer"
    response = owner.post(url, {"username": "owner", "role": "remove"}, follow=True)
    assert "must keep at least one owner" in response.content.decode()
    assert StudyMembership.objects.filter(study=study, role="owner").count() == 1


def test_researchers_see_only_their_studies_and_jobs(world):
    study, users, participant, args = world
    other_page = client_for("other", users, participant).get(reverse("research-home"))
    assert study.title not in other_page.content.decode() or not other_page.context["studies"]
    assert list(
        client_for("viewer", users, participant).get(reverse("research-home")).context["studies"]
    ) == [study]
    status = client_for("other", users, participant).get(
        reverse("research-jobs-status"), {"ids": str(args["job"][0])}
    )
    assert status.json() == {"jobs": []}
