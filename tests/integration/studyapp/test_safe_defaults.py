"""Safe defaults on the researcher's side: a new member is a viewer unless chosen otherwise,
every change says what was done, viewers are offered no action they cannot take, and the audit
log is where the README says (admin → Audit events)."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from studyapp.models import AuditEvent, FaceModel, Job, StudyMembership
from studyapp.storage import store_file
from tests.factories import make_relevance_artifact, make_report_artifact, make_study

pytestmark = pytest.mark.django_db


class Actions(HTMLParser):
    """The forms (method, action) and links of a page."""

    def __init__(self):
        super().__init__()
        self.forms, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("method", "get").lower(), attrs.get("action") or ""))
        elif tag == "a" and attrs.get("href", "").startswith("/"):
            self.links.append(attrs["href"])


@pytest.fixture
def study(django_user_model):
    study = make_study()
    for role in ("owner", "viewer"):
        user = django_user_model.objects.create_user(role, password="pw")
        StudyMembership.objects.create(study=study, user=user, role=role)
    django_user_model.objects.create_user("newcomer", password="pw")
    return study


def test_a_new_member_is_a_viewer_unless_chosen_otherwise(client, django_user_model, study):
    client.force_login(django_user_model.objects.get(username="owner"))
    url = reverse("research-members", args=[study.slug])
    page = client.get(url).content.decode()
    assert re.search(r'<option value="viewer" selected>', page)
    assert len(re.findall(r"<option [^>]*selected", page)) == 1
    response = client.post(url, {"username": "newcomer", "role": "viewer"})
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        f"newcomer now has the Viewer role on {study.title}."
    ]
    response = client.post(url, {"username": "newcomer", "role": "remove"}, follow=True)
    assert f"newcomer no longer has access to {study.title}." in response.content.decode()
    assert not StudyMembership.objects.filter(user__username="newcomer").exists()


def test_viewers_are_offered_no_action_they_cannot_take(client, django_user_model, study):
    job = Job.objects.create(
        kind="relevance", stimulus_set=study.stimulus_set, study=study, status="failed"
    )
    artifact = make_relevance_artifact(study.stimulus_set, job=job)
    make_report_artifact(study)
    client.force_login(django_user_model.objects.get(username="viewer"))
    pages = [
        reverse("research-study", args=[study.slug]),
        reverse("research-members", args=[study.slug]),
        reverse("research-job", args=[job.pk]),
        reverse("research-artifact", args=[artifact.pk]),
    ]
    logout = reverse("logout")
    for url in pages:
        actions = Actions()
        actions.feed(client.get(url).content.decode())
        posts = [action for method, action in actions.forms if method == "post"]
        assert set(posts) <= {logout}, (url, posts)
        for link in actions.links:
            assert client.get(link).status_code != 403, (url, link)


def test_the_audit_log_is_in_the_admin(client, django_user_model, study):
    owner = django_user_model.objects.get(username="owner")
    client.force_login(owner)
    client.get(reverse("research-responses-csv", args=[study.slug]))
    client.force_login(django_user_model.objects.create_superuser("staff", password="pw"))
    index = client.get(reverse("admin:index")).content.decode()
    changelist = reverse("admin:studyapp_auditevent_changelist")
    assert re.search(rf'<a href="{changelist}"[^>]*>Audit events</a>', index)
    page = client.get(changelist).content.decode()
    assert "Export or download" in page
    assert study.slug in page
    event = AuditEvent.objects.get()
    assert client.get(reverse("admin:studyapp_auditevent_add")).status_code == 403
    delete = reverse("admin:studyapp_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_models_compared_are_ticked_on_the_dashboard(client, django_user_model, study):
    weights, _ = store_file("weights/ticked.pt", b"weights")
    a, b = (
        FaceModel.objects.create(name=name, architecture="small_cnn", spec={}, weights=weights)
        for name in ("model a", "model b")
    )
    study.face_models.set([a])
    url = reverse("research-study-models", args=[study.slug])
    client.force_login(django_user_model.objects.get(username="owner"))
    page = client.get(reverse("research-study", args=[study.slug])).content.decode()
    assert re.search(
        rf'<input type="checkbox" name="face_models" value="{a.pk}"[^>]* checked>', page
    )
    assert not re.search(rf'value="{b.pk}"[^>]* checked', page)

    response = client.post(url, {"face_models": [b.pk]})
    assert response.status_code == 302
    assert list(study.face_models.all()) == [b]
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        "Models compared: model b. Run the pipeline to compare them."
    ]
    event = AuditEvent.objects.get(action="models")
    assert (event.user.username, event.detail) == (
        "owner",
        {"before": ["model a"], "after": ["model b"]},
    )
    client.post(url, {"face_models": [b.pk]})  # no change: no second entry
    assert AuditEvent.objects.filter(action="models").count() == 1

    for bad in (["999999"], ["abc"]):
        response = client.post(url, {"face_models": bad}, follow=True)
        assert response.status_code == 200
        assert "The models were not saved: " in response.content.decode()
        assert list(study.face_models.all()) == [b]

    client.force_login(django_user_model.objects.get(username="viewer"))
    assert client.post(url, {"face_models": [a.pk]}).status_code == 403
    assert list(study.face_models.all()) == [b]
