"""A viewer is offered only what they may do: every link and form on every researcher page a
viewer reaches is followed or submitted (as shown) and none answers 403."""

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Job
from tests.integration.studyapp.test_permissions import world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
MAX_PAGES = 500
NOT_FOLLOWED = ("/accounts/logout/", "/admin/")


class Offers(HTMLParser):
    """The links (GET) and forms (method, action, default values) of a page."""

    def __init__(self, url: str):
        super().__init__()
        self.url, self.links, self.forms = url, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(urljoin(self.url, attrs["href"]))
        elif tag == "form":
            action = urljoin(self.url, attrs.get("action") or self.url)
            self.forms.append(((attrs.get("method") or "get").lower(), action, {}))
        elif tag in ("input", "select", "textarea") and self.forms and attrs.get("name"):
            unticked = attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs
            if not unticked:
                self.forms[-1][2][attrs["name"]] = attrs.get("value", "")


def ours(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.netloc or parts.netloc == "testserver"


def test_nothing_offered_to_a_viewer_answers_403(world):  # noqa: F811
    client = Client()
    client.force_login(world.users["viewer"])
    pending, seen, refused = ["/research/"], set(), []
    while pending and len(seen) < MAX_PAGES:
        url = pending.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code == 403:
            refused.append(("get", url))
        if "text/html" not in response.get("Content-Type", ""):
            continue
        page = Offers(url)
        page.feed(response.content.decode())
        for link in page.links:
            parts = urlsplit(link)
            if ours(link) and parts.path.startswith("/research/"):
                pending.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for method, action, values in page.forms:
            path = urlsplit(action).path
            if method != "post" or not ours(action) or path.startswith(NOT_FOLLOWED):
                continue
            if client.post(path, values).status_code == 403:
                refused.append(("post", path))
    job = Job.objects.filter(study=world.study).order_by("pk").first()
    artifact = world.urls["artifact"][0]
    expected = {
        reverse("research-job", args=[job.pk]),
        reverse("research-artifact-download", args=[artifact]),
        reverse("research-report", args=[world.study.slug]),
    }
    assert expected <= seen  # it got everywhere
    assert refused == []
