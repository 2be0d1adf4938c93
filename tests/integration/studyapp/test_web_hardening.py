"""Cookie flags, the Content-Security-Policy header and proxy addresses (issue 10, "Smaller")."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db
POLICY = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'"


def consent(client, study, pid="p1"):
    return client.post(
        reverse("study-consent", args=[study.slug]), {"decision": "agree", "PROLIFIC_PID": pid}
    )


@pytest.mark.parametrize("secure", [True, False])
def test_the_participant_cookie_is_secure_where_the_session_cookie_is(settings, secure):
    settings.SESSION_COOKIE_SECURE = secure
    study = make_study()
    response = consent(Client(), study)
    assert response.status_code == 302
    cookie = response.cookies[f"facesim_{study.pk}"]
    assert bool(cookie["secure"]) is secure
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_every_participant_page_and_the_api_send_the_policy():
    study = make_study(consent_text="![x](https://tracker.example.net/p.png)")
    participant = start_participant(study)
    client = Client()
    responses = [
        client.get(reverse("study-start", args=[study.slug])),
        client.get(reverse("participant-runner", args=[participant.token])),
        client.get(reverse("api-plan", args=[participant.token])),
        client.get(reverse("login")),
        client.get("/no/such/page"),
    ]
    assert b"https://tracker.example.net/p.png" in responses[0].content
    for response in responses:
        assert response["Content-Security-Policy"].startswith(POLICY), response


def test_the_policy_is_a_setting(settings):
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"
    assert Client().get(reverse("login"))["Content-Security-Policy"] == "default-src 'none'"
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in Client().get(reverse("login"))


def test_rate_limits_count_the_address_our_proxy_appended(settings):
    """The client writes the first X-Forwarded-For entries; the proxy appends the last one."""
    settings.FACESIM_TRUST_X_FORWARDED_FOR = True
    settings.FACESIM_RATE_START_PER_MINUTE = 3
    study = make_study()
    start = reverse("study-start", args=[study.slug])
    spoofed = [
        Client().get(start, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 203.0.113.7").status_code
        for i in range(5)
    ]
    assert spoofed == [200, 200, 200, 429, 429]
    other = Client().get(start, HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.9")
    assert other.status_code == 200


def test_without_a_trusted_proxy_the_header_is_ignored(settings):
    settings.FACESIM_TRUST_X_FORWARDED_FOR = False
    settings.FACESIM_RATE_START_PER_MINUTE = 2
    study = make_study()
    start = reverse("study-start", args=[study.slug])
    statuses = [
        Client().get(start, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]
