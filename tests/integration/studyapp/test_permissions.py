"""Every URL the project serves, for every kind of visitor and method: anonymous, a participant
of another study, a researcher without a role, viewer, collaborator, owner and staff (an admin
superuser). The matrix is checked against the URL resolver, so a new URL without an entry
fails ``test_every_url_is_in_the_matrix``; ``/media/`` is in it (stimulus images only)."""

import json
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from studyapp.models import AuditEvent, FaceModel, Job, StimulusImport, StudyMembership
from studyapp.payloads import parse_response
from studyapp.services.attributes import questionnaire_submit
from studyapp.services.responses import response_record
from studyapp.services.stimuli import stimulus_set_import
from studyapp.storage import store_file
from tests.factories import (
    answer_for,
    make_relevance_artifact,
    make_report_artifact,
    make_study,
    png_bytes,
    source,
    start_participant,
)

pytestmark = pytest.mark.django_db
ACTORS = ("anonymous", "participant", "other", "viewer", "collaborator", "owner", "staff")
LOGIN = "login"  # a redirect to the log-in page
ADMIN_LOGIN = "admin-login"  # a redirect to the admin's log-in page
GONE = (404,) * 7  # nobody, staff included


def every(status) -> tuple:
    return (status,) * len(ACTORS)


def researchers(anonymous, other, viewer, collaborator, owner) -> tuple:
    """Researcher pages: a participant is anonymous to them, staff may do what owners may."""
    return (anonymous, anonymous, other, viewer, collaborator, owner, owner)


STAFF_ONLY = (ADMIN_LOGIN,) * 6 + (200,)

# (route, method, url key) -> expected status per actor, in the order of ACTORS. The route is
# the pattern's full text as the resolver has it; the url key names a concrete URL (`urls`).
MATRIX = {
    ("healthz", "get", "healthz"): every(200),
    ("media/stimuli/<path:path>", "get", "live-image"): every(200),
    ("media/stimuli/<path:path>", "post", "live-image"): every(405),
    ("media/stimuli/<path:path>", "get", "draft-image"): (404, 404, 404, 200, 200, 200, 200),
    ("media/stimuli/<path:path>", "get", "private-via-stimuli"): GONE,
    ("media/stimuli/<path:path>", "get", "private-file"): GONE,  # matches no route: 404 too
    ("s/<slug:slug>/", "get", "start"): every(200),
    ("s/<slug:slug>/", "post", "start"): every(405),
    ("s/<slug:slug>/consent", "post", "consent"): every(200),
    ("s/<slug:slug>/consent", "get", "consent"): every(405),
    # The session token in the URL is the participant's credential (a capability link).
    ("p/<token:token>/", "get", "runner"): every(200),
    ("p/<token:token>/", "get", "runner-unknown"): GONE,
    # the study has no questionnaire: on to the runner
    ("p/<token:token>/questionnaire", "get", "questionnaire"): every(302),
    ("p/<token:token>/questionnaire", "get", "questionnaire-unknown"): GONE,
    ("api/p/<token:token>/plan", "get", "plan"): every(200),
    ("api/p/<token:token>/plan", "get", "plan-unknown"): GONE,
    ("api/p/<token:token>/plan", "post", "plan"): every(405),
    ("api/p/<token:token>/responses", "post", "responses"): every(400),
    ("api/p/<token:token>/responses", "post", "responses-unknown"): GONE,
    ("api/p/<token:token>/responses", "get", "responses"): every(405),
    ("api/p/<token:token>/client", "post", "client"): every(200),
    ("api/p/<token:token>/screening", "post", "screening"): every(400),
    ("api/p/<token:token>/comprehension", "post", "comprehension"): every(409),
    ("api/p/<token:token>/complete", "post", "complete"): every(422),
    ("research/", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/studies/new", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/studies/<slug:slug>/", "get", "slug"): researchers(LOGIN, 404, 200, 200, 200),
    ("research/studies/<slug:slug>/edit", "get", "slug"): researchers(LOGIN, 404, 403, 200, 200),
    ("research/studies/<slug:slug>/status", "post", "slug"): researchers(LOGIN, 404, 403, 302, 302),
    ("research/studies/<slug:slug>/status", "get", "slug"): researchers(LOGIN, 404, 200, 200, 200),
    ("research/studies/<slug:slug>/members", "get", "slug"): researchers(LOGIN, 404, 200, 200, 200),
    ("research/studies/<slug:slug>/clone", "post", "slug"): researchers(LOGIN, 404, 403, 302, 302),
    ("research/studies/<slug:slug>/models", "post", "slug"): researchers(LOGIN, 404, 403, 302, 302),
    (
        "research/studies/<slug:slug>/participants/<int:participant_id>/exclusion",
        "post",
        "exclusion",
    ): researchers(LOGIN, 404, 403, 302, 302),
    ("research/studies/<slug:slug>/delete", "post", "slug"): researchers(LOGIN, 404, 403, 403, 302),
    (
        r"^research/studies/(?P<slug>[-\w]+)/charts/(?P<name>participants|responses|rts|dropout)"
        r"\.png$",
        "get",
        "chart",
    ): researchers(LOGIN, 404, 200, 200, 200),
    ("research/studies/<slug:slug>/pipeline", "post", "slug"): researchers(
        LOGIN, 404, 403, 302, 302
    ),
    ("research/studies/<slug:slug>/report/", "get", "slug"): researchers(LOGIN, 404, 200, 200, 200),
    ("research/studies/<slug:slug>/report/<path:name>", "get", "report-pdf"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/studies/<slug:slug>/responses.csv", "get", "slug"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/studies/<slug:slug>/participants.csv", "get", "slug"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/studies/<slug:slug>/participant-attributes.csv", "get", "slug"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    # a POST without a file: refused with a message
    ("research/studies/<slug:slug>/participant-attributes", "post", "slug"): researchers(
        LOGIN, 404, 403, 400, 400
    ),
    ("research/studies/<slug:slug>/participant-attributes", "get", "slug"): every(405),
    ("research/models/", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/models/grid/", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/models/weights.json", "post", None): researchers(LOGIN, 400, 400, 400, 400),
    ("research/models/weights.json", "get", None): researchers(LOGIN, 405, 405, 405, 405),
    ("research/jobs/", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/jobs/status.json", "get", None): researchers(LOGIN, 200, 200, 200, 200),
    ("research/jobs/<int:job_id>/", "get", "job"): researchers(LOGIN, 404, 200, 200, 200),
    (r"^research/jobs/(?P<job_id>\d+)/(?P<action>cancel|retry)$", "post", "job-action"): (
        researchers(LOGIN, 404, 403, 302, 302)
    ),
    ("research/artifacts/<int:artifact_id>/", "get", "artifact"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/artifacts/<int:artifact_id>/", "get", "report-artifact"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/artifacts/<int:artifact_id>/download", "get", "artifact"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/artifacts/<int:artifact_id>/download", "get", "report-artifact"): researchers(
        LOGIN, 404, 200, 200, 200
    ),
    ("research/artifacts/<int:artifact_id>/overlay/<int:stimulus_id>.png", "get", "overlay"): (
        researchers(LOGIN, 404, 200, 200, 200)
    ),
    # the world's job and artifact are no dissection: members get 404 too (the PNGs of a real
    # dissection, and an outsider's 404 on them, are tested in test_dissection_job.py)
    ("research/jobs/<int:job_id>/dissection/<slug:name>.png", "get", "job-dissection"): (
        researchers(LOGIN, 404, 404, 404, 404)
    ),
    (
        "research/artifacts/<int:artifact_id>/dissection/<slug:name>.png",
        "get",
        "artifact-dissection",
    ): researchers(LOGIN, 404, 404, 404, 404),
    ("accounts/login/", "get", "login"): every(200),
    ("accounts/logout/", "get", "logout"): every(405),
    ("accounts/password_change/", "get", "password_change"): researchers(LOGIN, 200, 200, 200, 200),
    ("accounts/password_change/done/", "get", "password_change_done"): researchers(
        LOGIN, 200, 200, 200, 200
    ),
    ("accounts/password_reset/", "get", "password_reset"): every(200),
    ("accounts/password_reset/done/", "get", "password_reset_done"): every(200),
    ("accounts/reset/<uidb64>/<token>/", "get", "password_reset_confirm"): every(200),
    ("accounts/reset/done/", "get", "password_reset_complete"): every(200),
    ("admin/", "get", "admin:index"): STAFF_ONLY,
    ("admin/login/", "get", "admin:login"): (200,) * 6 + (302,),
    ("admin/logout/", "get", "admin:logout"): (302,) * 6 + (405,),  # 302: to the admin index
    ("admin/password_change/", "get", "admin:password_change"): STAFF_ONLY,
    ("admin/password_change/done/", "get", "admin:password_change_done"): STAFF_ONLY,
    ("admin/autocomplete/", "get", "admin:autocomplete"): (ADMIN_LOGIN,) * 6 + (403,),
    ("admin/jsi18n/", "get", "admin:jsi18n"): STAFF_ONLY,
    ("admin/r/<path:content_type_id>/<path:object_id>/", "get", "view-on-site"): (
        (ADMIN_LOGIN,) * 6 + (404,)  # no model here has a public page
    ),
    ("admin/(?P<url>.*)$", "get", "admin-nothing"): (ADMIN_LOGIN,) * 6 + (404,),
    ("admin/studyapp/stimulusset/import/", "get", "stimulus-import"): STAFF_ONLY,
    ("admin/auth/user/<id>/password/", "get", "user-password"): STAFF_ONLY,
}
# Models whose rows only the platform writes: the admin has no "add" page for them.
ADMIN_NO_ADD = {
    "stimulusset", "stimulus", "participant", "participantattribute", "trial", "response",
    "facemodel", "job", "artifact", "auditevent", "stimulusimport",
}  # fmt: skip
# the audit log keeps every entry; a stimulus goes only with its set (plans and answers name it)
ADMIN_NO_DELETE = {"auditevent", "stimulus"}


def admin_matrix() -> dict:
    """The admin's app and model pages: staff only; no "add" where the platform writes rows."""
    # the app-index pattern lists the app labels in registration order, which import order decides
    app_labels = "|".join(dict.fromkeys(model._meta.app_label for model in admin.site._registry))
    rows = {(f"admin/^(?P<app_label>{app_labels})/$", "get", "admin-app"): STAFF_ONLY}
    for model in admin.site._registry:
        label = f"{model._meta.app_label}/{model._meta.model_name}"
        add = 403 if model._meta.model_name in ADMIN_NO_ADD else 200
        delete = 403 if model._meta.model_name in ADMIN_NO_DELETE else 200
        pages = {
            "": 200,
            "add/": add,
            "<path:object_id>/history/": 200,
            "<path:object_id>/delete/": delete,
            "<path:object_id>/change/": 200,
            "<path:object_id>/": 302,  # the old URL, redirected to change/
        }
        for page, staff in pages.items():
            rows[(f"admin/{label}/{page}", "get", f"admin:{label}:{page}")] = (ADMIN_LOGIN,) * 6 + (
                staff,
            )
    return rows


def served_routes(resolver=None, prefix: str = "", namespace: str = ""):
    """(full route text, qualified name) of every URL pattern the project serves."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from served_routes(pattern, route, inner)
        else:
            yield route, namespace + (pattern.name or "")


@dataclass
class World:
    study: object
    users: dict
    participant: object  # of the study
    visitor: object  # a participant of another study
    urls: dict


@pytest.fixture
def world(django_user_model):
    study = make_study()
    users = {}
    for name in ("other", "viewer", "collaborator", "owner"):
        users[name] = django_user_model.objects.create_user(name, password="pw")
    users["staff"] = django_user_model.objects.create_superuser("staff", password="pw")
    for role in ("viewer", "collaborator", "owner"):
        StudyMembership.objects.create(study=study, user=users[role], role=role)
    participant = start_participant(study)
    trial = participant.trials.order_by("index").first()
    response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    questionnaire_submit(participant=participant, answers={"handedness": "left"})
    visitor = start_participant(make_study())
    draft_set, _ = stimulus_set_import(
        name="draft-set", files=[source(f"d{i}.png", png_bytes(200 + i)) for i in range(3)]
    )
    draft = make_study(draft_set, status="draft")
    for role in ("viewer", "collaborator", "owner"):
        StudyMembership.objects.create(study=draft, user=users[role], role=role)
    job = Job.objects.create(
        kind="relevance",
        stimulus_set=study.stimulus_set,
        study=study,
        status="failed",
        created_by=users["owner"],
    )
    stimulus = study.stimulus_set.stimuli.order_by("pk").first()
    artifact = make_relevance_artifact(study.stimulus_set, job=job)
    report = make_report_artifact(study, job=job)
    weights, _ = store_file("weights/uploaded.pt", b"weights")
    face_model = FaceModel.objects.create(
        name="m", architecture="small_cnn", spec={}, weights=weights
    )
    objects = {
        "auth/group": Group.objects.create(name="g"),
        "auth/user": users["owner"],
        "studyapp/stimulusset": study.stimulus_set,
        "studyapp/stimulus": stimulus,
        "studyapp/study": study,
        "studyapp/participant": participant,
        "studyapp/participantattribute": participant.attributes.get(),
        "studyapp/trial": trial,
        "studyapp/response": trial.response,
        "studyapp/facemodel": face_model,
        "studyapp/job": job,
        "studyapp/artifact": artifact,
        "studyapp/auditevent": AuditEvent.objects.create(action="export", study=study),
        "studyapp/stimulusimport": StimulusImport.objects.create(name="i", status="failed"),
    }
    token, slug = participant.token, study.slug
    start = reverse("study-start", args=[slug]) + "?PROLIFIC_PID=someone-new"
    urls = {
        None: None,  # reverse(name) without arguments
        "healthz": reverse("healthz"),
        "live-image": stimulus.image.url,
        "draft-image": draft_set.stimuli.first().image.url,
        "private-file": f"/media/{report.file.name}",
        "private-via-stimuli": f"/media/stimuli/../{report.file.name}",
        "start": start,
        "consent": reverse("study-consent", args=[slug]),
        "runner": reverse("participant-runner", args=[token]),
        "runner-unknown": reverse("participant-runner", args=["no-such-token"]),
        "questionnaire": reverse("participant-questionnaire", args=[token]),
        "questionnaire-unknown": reverse("participant-questionnaire", args=["no-such-token"]),
        "plan": reverse("api-plan", args=[token]),
        "plan-unknown": reverse("api-plan", args=["no-such-token"]),
        "responses": reverse("api-responses", args=[token]),
        "responses-unknown": reverse("api-responses", args=["no-such-token"]),
        "client": reverse("api-client", args=[token]),
        "complete": reverse("api-complete", args=[token]),
        "screening": reverse("api-screening", args=[token]),
        "comprehension": reverse("api-comprehension", args=[token]),
        "slug": [slug],
        "exclusion": [slug, participant.pk],
        "chart": reverse("research-study-chart", args=[slug, "participants"]),
        "report-pdf": reverse("research-report-file", args=[slug, "report.pdf"]),
        "job": reverse("research-job", args=[job.pk]),
        "job-action": reverse("research-job-action", args=[job.pk, "retry"]),
        "artifact": [artifact.pk],
        "report-artifact": [report.pk],
        "overlay": reverse("research-relevance-overlay", args=[artifact.pk, stimulus.pk]),
        "job-dissection": reverse("research-job-dissection-figure", args=[job.pk, "levels"]),
        "artifact-dissection": reverse(
            "research-artifact-dissection-figure", args=[artifact.pk, "levels"]
        ),
        "password_reset_confirm": reverse("password_reset_confirm", args=["MQ", "bad-token"]),
        "view-on-site": reverse(
            "admin:view_on_site", args=[ContentType.objects.get_for_model(study).pk, study.pk]
        ),
        "admin-app": reverse("admin:app_list", args=["studyapp"]),
        "admin-nothing": "/admin/nothing-here/",
        "stimulus-import": reverse("admin:studyapp_stimulusset_import"),
        "user-password": reverse("admin:auth_user_password_change", args=[users["owner"].pk]),
    }
    for label, obj in objects.items():
        base = f"/admin/{label}/"
        for page in ("", "add/"):
            urls[f"admin:{label}:{page}"] = base + page
        for page in ("history/", "delete/", "change/", ""):
            urls[f"admin:{label}:<path:object_id>/{page}"] = f"{base}{obj.pk}/{page}"
    return World(study, users, participant, visitor, urls)


def client_for(actor: str, world: World) -> Client:
    client = Client()
    if actor == "participant":  # has the session of another study's participant
        client.get(reverse("participant-runner", args=[world.visitor.token]))
    elif actor in world.users:
        client.force_login(world.users[actor])
    return client


def url_for(world: World, route: str, key) -> str:
    """The concrete URL of a matrix row: a URL, a URL name, or arguments for the route."""
    value = world.urls.get(key, key)
    if isinstance(value, str) and value.startswith("/"):
        return value
    if isinstance(value, str):  # an admin or accounts URL name
        return reverse(value)
    return reverse(dict(served_routes())[route], args=value or [])


def full_matrix() -> dict:
    return {**MATRIX, **admin_matrix()}


def test_every_url_is_in_the_matrix():
    assert {route for route, _ in served_routes()} == {route for route, _, _ in full_matrix()}


def request(client: Client, method: str, url: str, route: str):
    if route.startswith("api/") and method == "post":
        return client.post(url, "{}", content_type="application/json")
    if route.startswith("s/"):
        data = {"PROLIFIC_PID": "someone-new", "decision": "decline"}
        return getattr(client, method)(url, data if method == "post" else None)
    data = {"status": "live"} if route.endswith("/status") else {}
    return getattr(client, method)(url, data)


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(world, actor, monkeypatch):
    monkeypatch.setattr("studyapp.services.jobs.enqueue", lambda *args: None)  # retry: no broker
    failures = []
    for (route, method, key), expected in full_matrix().items():
        if route.endswith("/delete"):
            continue  # deleting the study changes the world: tested on its own below
        url = url_for(world, route, key)
        response = request(client_for(actor, world), method, url, route)
        wanted = expected[ACTORS.index(actor)]
        if wanted in (LOGIN, ADMIN_LOGIN):
            login = "/accounts/login/" if wanted == LOGIN else "/admin/login/"
            if response.status_code != 302 or not response["Location"].startswith(login):
                failures.append((method, url, wanted, response.status_code))
        elif response.status_code != wanted:
            failures.append((method, url, wanted, response.status_code))
    assert not failures, json.dumps(failures, indent=1)


@pytest.mark.parametrize("actor", ACTORS)
def test_deleting_a_study(world, actor):
    study = world.study
    response = client_for(actor, world).post(
        reverse("research-study-delete", args=[study.slug]), {"confirm_slug": study.slug}
    )
    expected = MATRIX[("research/studies/<slug:slug>/delete", "post", "slug")]
    wanted = expected[ACTORS.index(actor)]
    if wanted == LOGIN:
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == wanted
    deleted = not type(study).objects.filter(pk=study.pk).exists()
    assert deleted == (actor in ("owner", "staff"))
    if deleted:
        event = AuditEvent.objects.get(action="delete")
        assert (event.user, event.study_slug, event.detail["participants"]) == (
            world.users[actor],
            study.slug,
            1,
        )


def test_audit_log_records_exports_and_status_changes(world):
    study = world.study
    owner = client_for("owner", world)
    owner.get(reverse("research-responses-csv", args=[study.slug]))
    owner.post(reverse("research-study-status", args=[study.slug]), {"status": "closed"})
    owner.get(reverse("research-artifact-download", args=world.urls["artifact"]))
    actions = list(  # (the world's own event, for the admin pages, has no user)
        AuditEvent.objects.filter(user__isnull=False)
        .order_by("created_at")
        .values_list("action", "user__username")
    )
    assert actions == [("export", "owner"), ("status", "owner"), ("export", "owner")]
    assert AuditEvent.objects.get(action="status").detail == {"before": "live", "after": "closed"}


def test_only_owners_change_membership_and_an_owner_always_remains(world):
    study = world.study
    url = reverse("research-members", args=[study.slug])
    client_for("collaborator", world).post(url, {"username": "other", "role": "viewer"})
    assert not StudyMembership.objects.filter(user=world.users["other"]).exists()
    owner = client_for("owner", world)
    owner.post(url, {"username": "other", "role": "viewer"})
    assert StudyMembership.objects.get(user=world.users["other"]).role == "viewer"
    response = owner.post(url, {"username": "owner", "role": "remove"}, follow=True)
    assert "must keep at least one owner" in response.content.decode()
    assert StudyMembership.objects.filter(study=study, role="owner").count() == 1


def test_researchers_see_only_their_studies_and_jobs(world):
    study = world.study
    other_page = client_for("other", world).get(reverse("research-home"))
    assert not other_page.context["studies"]
    viewer_studies = client_for("viewer", world).get(reverse("research-home")).context["studies"]
    assert study in list(viewer_studies)
    job = Job.objects.get(study=study)
    status = client_for("other", world).get(reverse("research-jobs-status"), {"ids": str(job.pk)})
    assert status.json() == {"jobs": []}
