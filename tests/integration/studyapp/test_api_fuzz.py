"""Generated bad (and odd) inputs to every participant endpoint: never a server error."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["trial", "rt_ms", "choice", "rating", "responded_at", "viewport", "x"]
)
response_like = st.dictionaries(field_names, json_values, max_size=6)
raw_bodies = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


@pytest.fixture
def session(settings):
    settings.FACESIM_RATE_API_PER_MINUTE = 10**6
    settings.FACESIM_RATE_START_PER_MINUTE = 10**6
    study = make_study(trial_types=["triplet", "rating", "afc"], trials_per_participant=9)
    return study, start_participant(study)


def assert_not_server_error(response):
    assert response.status_code < 500, response.content[:500]


@FUZZ
@given(body=response_like | json_values)
def test_response_bodies(session, body):
    _study, participant = session
    raw = json.dumps(body, allow_nan=True)
    for name in ("api-responses", "api-client", "api-complete"):
        response = Client().post(
            reverse(name, args=[participant.token]), raw, content_type="application/json"
        )
        assert_not_server_error(response)
        if response.status_code >= 400:
            assert response.json()["error"]["message"]


@FUZZ
@given(
    raw=raw_bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
def test_raw_bodies(session, raw, content_type):
    _, participant = session
    response = Client().post(
        reverse("api-responses", args=[participant.token]), raw, content_type=content_type
    )
    assert_not_server_error(response)


@FUZZ
@given(token=st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t and "\x00" not in t))
def test_unknown_tokens(session, token):
    for name, method in (
        ("api-plan", "get"),
        ("api-responses", "post"),
        ("participant-runner", "get"),
    ):
        try:
            url = reverse(name, args=[token])
        except Exception:  # a token no URL can carry never reaches a view
            continue
        assert_not_server_error(getattr(Client(), method)(url))


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["PROLIFIC_PID", "participant", "STUDY_ID", "SESSION_ID", "decision", "z"]),
        st.text(max_size=200),
        max_size=5,
    )
)
def test_start_and_consent_forms(session, params):
    study, _ = session
    assert_not_server_error(Client().get(reverse("study-start", args=[study.slug]), params))
    assert_not_server_error(Client().post(reverse("study-consent", args=[study.slug]), params))
