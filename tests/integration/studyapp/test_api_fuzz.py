"""Generated bad (and odd) inputs to every participant endpoint: never a server error, and
nothing half-stored (a response, a session or a client record appears only with a 2xx answer,
and every stored value is one the API would accept)."""

import json
import math
import re
from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyapp.models import Participant, Response
from studyapp.views.participant_api import CLIENT_FIELDS
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# text with what PostgreSQL cannot store (NUL) and UTF-8 cannot encode (lone surrogates)
hostile_text = st.text(
    st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028", "\ufeff"]),
    max_size=40,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
# JSON number texts Python parses into values no field can hold (json.dumps cannot make them)
raw_numbers = st.sampled_from(
    ["9" * 5000, "-" + "1" * 4400, "1" + "0" * 400, "1e400", "-1e400", "NaN", "Infinity"]
) | st.integers(min_value=20, max_value=6000).map(lambda n: "7" * n)
nested = st.integers(min_value=1, max_value=6000).map(lambda n: "[" * n + "]" * n)
field_names = st.sampled_from(
    ["trial", "rt_ms", "choice", "rating", "responded_at", "viewport", "x", *sorted(CLIENT_FIELDS)]
)
response_like = st.dictionaries(field_names, json_values, max_size=6)
raw_bodies = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
times = st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()) | st.sampled_from(
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z"]
)


@pytest.fixture
def session(settings):
    settings.FACESIM_RATE_API_PER_MINUTE = 10**6
    settings.FACESIM_RATE_START_PER_MINUTE = 10**6
    study = make_study(trial_types=["triplet", "rating", "afc"], trials_per_participant=9)
    return study, start_participant(study)


def assert_not_server_error(response):
    assert response.status_code < 500, response.content[:500]


def assert_json_error(response):
    assert_not_server_error(response)
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


def assert_stored_values_are_valid(participant: Participant) -> None:
    """Every stored response is one the API accepts: no half-checked or broken value."""
    window = timedelta(hours=django_settings.PARTICIPANT_CLOCK_WINDOW_HOURS)
    now = timezone.now()
    for response in Response.objects.filter(trial__participant=participant).select_related("trial"):
        trial = response.trial
        assert math.isfinite(response.rt_ms)
        assert 0 < response.rt_ms <= django_settings.PARTICIPANT_MAX_RT_MS
        assert response.responded_at is None or abs(response.responded_at - now) <= window
        if trial.trial_type == "rating":
            low, high = participant.study.rating_range
            assert response.choice is None
            assert low <= response.rating <= high
        else:
            assert response.rating is None
            assert response.choice in trial.items


def post(participant, name, raw, content_type="application/json"):
    return Client().post(reverse(name, args=[participant.token]), raw, content_type=content_type)


def stored_clients(participant: Participant) -> list[dict]:
    return Participant.objects.get(pk=participant.pk).client_info.get("clients", [])


def post_counted(participant, name, raw):
    """POST and check that something was stored exactly when the answer says so."""
    before = Response.objects.filter(trial__participant=participant).count()
    clients_before = stored_clients(participant)
    response = post(participant, name, raw)
    assert_json_error(response)
    after = Response.objects.filter(trial__participant=participant).count()
    assert after - before == (1 if (name, response.status_code) == ("api-responses", 201) else 0)
    clients = stored_clients(participant)
    if name == "api-client" and response.status_code == 200:
        sent = json.loads(raw)
        assert clients[-1] == {k: str(v)[:300] for k, v in sent.items() if k in CLIENT_FIELDS} | (
            {"viewport": clients[-1]["viewport"]} if "viewport" in clients[-1] else {}
        )
    else:
        assert clients == clients_before
    return response


@FUZZ
@given(body=response_like | json_values)
def test_response_bodies(session, body):
    _study, participant = session
    raw = json.dumps(body, allow_nan=True)
    for name in ("api-responses", "api-client", "api-complete"):
        post_counted(participant, name, raw)
    assert_stored_values_are_valid(participant)


@FUZZ
@given(
    trial=st.integers(min_value=-2, max_value=12),
    field=field_names,
    raw_value=raw_numbers | nested | json_values.map(json.dumps) | times.map(json.dumps),
)
def test_valid_answers_with_one_hostile_field(session, trial, field, raw_value):
    """A real answer to a real trial, with one field's JSON text replaced."""
    study, participant = session
    planned = participant.trials.filter(index=trial).first()
    answer = answer_for(planned, study) if planned else {"trial": trial, "rt_ms": 800}
    answer[field] = "__HOSTILE__"
    raw = json.dumps(answer).replace('"__HOSTILE__"', raw_value)
    for name in ("api-responses", "api-client"):
        post_counted(participant, name, raw)
    assert_stored_values_are_valid(participant)


@FUZZ
@given(
    raw=raw_bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
    name=st.sampled_from(["api-responses", "api-client", "api-complete"]),
)
def test_raw_bodies(session, raw, content_type, name):
    _, participant = session
    before = Response.objects.count()
    response = post(participant, name, raw, content_type)
    assert_json_error(response)
    assert Response.objects.count() == before + (response.status_code == 201)


@FUZZ
@given(token=st.binary(min_size=1, max_size=80))
def test_unknown_and_malformed_tokens(session, token):
    """Any bytes in the token's place of every participant URL: a 404, JSON under /api/."""
    segment = quote_from_bytes(token, safe="")
    client = Client()
    for url, method in (
        (f"/api/p/{segment}/plan", "get"),
        (f"/api/p/{segment}/responses", "post"),
        (f"/api/p/{segment}/client", "post"),
        (f"/api/p/{segment}/complete", "post"),
        (f"/p/{segment}/", "get"),
    ):
        response = getattr(client, method)(url)
        assert_not_server_error(response)
        if url.startswith("/api/") and response.status_code >= 400:
            assert response.json()["error"]["message"]
    assert not Response.objects.exists()


def query_string(pairs: list[tuple[bytes, bytes]]) -> str:
    return "&".join(
        f"{quote_from_bytes(k, safe='')}={quote_from_bytes(v, safe='')}" for k, v in pairs
    )


id_names = st.sampled_from(
    [b"PROLIFIC_PID", b"participant", b"STUDY_ID", b"SESSION_ID", b"decision", b"z"]
)
id_values = (
    st.binary(max_size=200)
    | hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.sampled_from([b"agree", b"decline", b"9" * 5000, b"\x00"])
)
form_pairs = st.lists(st.tuples(id_names, id_values), max_size=5)


@FUZZ
@given(
    pairs=form_pairs,
    decision=st.sampled_from([b"agree", b"decline"]) | id_values,
    cookie=st.binary(max_size=80),
)
def test_start_link_and_consent(session, pairs, decision, cookie):
    """Any bytes in the start link's query, the consent form and the session cookie: no 500,
    and a session is created only by an agreeing consent that answers with a redirect."""
    study, _ = session
    query = query_string([*pairs, (b"decision", decision)])
    client = Client()
    client.cookies[f"facesim_{study.pk}"] = quote_from_bytes(cookie, safe="")
    before = Participant.objects.count()
    start = client.get(f"{reverse('study-start', args=[study.slug])}?{query}")
    assert_not_server_error(start)
    assert start.status_code in (200, 302, 400)
    assert Participant.objects.count() == before
    consent = client.post(
        reverse("study-consent", args=[study.slug]),
        query,
        content_type="application/x-www-form-urlencoded",
    )
    assert_not_server_error(consent)
    created = Participant.objects.count() - before
    assert created in (0, 1)
    if created:
        assert consent.status_code == 302
        new = Participant.objects.latest("pk")
        assert new.trials.exists()
        assert re.fullmatch("[0-9a-f]{64}|anon-[0-9a-f]{32}", new.pseudonym)
        for digest in (new.external_study_hash, new.external_session_hash):
            assert re.fullmatch("|[0-9a-f]{64}", digest)
