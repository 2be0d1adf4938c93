"""The participant's way in: start link, consent, pseudonyms, resume, closed and full studies."""

import pytest
from django.db import connection
from django.urls import reverse

from studyapp.models import Participant, Study, Trial
from studyapp.pseudonyms import pseudonymise
from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db


def start_url(study, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("study-start", args=[study.slug]) + (f"?{query}" if query else "")


def consent(client, study, decision="agree", **ids):
    return client.post(reverse("study-consent", args=[study.slug]), {"decision": decision, **ids})


def test_start_link_shows_the_consent_text_rendered_safely(client):
    study = make_study(consent_text="**Please read** <script>alert(1)</script>")
    response = client.get(start_url(study, PROLIFIC_PID="p1", STUDY_ID="s", SESSION_ID="x"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Please read</strong>" in html
    assert "<script>alert(1)" not in html
    assert 'name="PROLIFIC_PID" value="p1"' in html


def test_declining_stores_only_a_count(client):
    study = make_study()
    response = consent(client, study, "decline", PROLIFIC_PID="decliner")
    assert response.status_code == 200
    assert "Nothing about you has been stored" in response.content.decode()
    study.refresh_from_db()
    assert study.declined_count == 1
    assert not Participant.objects.exists()


def test_agreeing_creates_a_planned_session_with_pseudonymised_ids(client):
    study = make_study(
        trials_per_participant=10, practice_trials=1, repeat_rate=0.1, catch_rate=0.1
    )
    response = consent(
        client, study, PROLIFIC_PID="5f1e-raw-id", STUDY_ID="st-9", SESSION_ID="se-7"
    )
    participant = Participant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("participant-runner", args=[participant.token])
    assert participant.source == "prolific"
    assert participant.pseudonym == pseudonymise("5f1e-raw-id")
    assert participant.external_study_hash == pseudonymise("st-9")
    assert participant.external_session_hash == pseudonymise("se-7")
    assert participant.trials.count() == 1 + 10 + 1 + 1  # practice, main, repeat, catch
    with connection.cursor() as cursor:  # the raw ids are stored nowhere
        cursor.execute("SELECT row_to_json(p)::text FROM studyapp_participant p")
        assert all("5f1e-raw-id" not in row[0] for row in cursor.fetchall())


def test_the_same_external_id_returns_to_the_same_session(client, django_user_model):
    study = make_study()
    consent(client, study, PROLIFIC_PID="again")
    first = Participant.objects.get()
    other_browser = client_class = type(client)
    response = other_browser().get(start_url(study, PROLIFIC_PID="again"))
    assert response.status_code == 302
    assert response["Location"] == reverse("participant-runner", args=[first.token])
    consent(client_class(), study, PROLIFIC_PID="again")  # a double-submitted consent
    assert Participant.objects.count() == 1
    assert Trial.objects.filter(participant=first).count() == first.trials.count()


def test_anonymous_participants_resume_by_cookie(client):
    study = make_study()
    consent(client, study)
    participant = Participant.objects.get()
    assert participant.source == "anonymous"
    assert participant.pseudonym.startswith("anon-")
    response = client.get(start_url(study))
    assert response["Location"] == reverse("participant-runner", args=[participant.token])


@pytest.mark.parametrize("status", [Study.Status.CLOSED, Study.Status.DRAFT])
def test_a_study_that_is_not_live_says_so_politely(client, status):
    study = make_study(status=status)
    response = client.get(start_url(study, PROLIFIC_PID="late"))
    assert response.status_code == 200
    assert {"closed": "This study is closed", "draft": "has not started"}[status] in (
        response.content.decode()
    )
    assert consent(client, study, PROLIFIC_PID="late").status_code == 200
    assert not Participant.objects.exists()


def test_returning_participants_may_finish_after_the_study_closed(client):
    study = make_study()
    consent(client, study, PROLIFIC_PID="early")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    assert client.get(start_url(study, PROLIFIC_PID="early")).status_code == 302


def test_a_full_study_turns_new_participants_away(client):
    study = make_study(target_participants=2)
    start_participant(study)
    start_participant(study)
    response = client.get(start_url(study, PROLIFIC_PID="third"))
    assert "This study is full" in response.content.decode()
    assert "This study is full" in consent(client, study, PROLIFIC_PID="third").content.decode()
    assert Participant.objects.count() == 2


def test_unknown_study_and_session_are_polite_404s(client):
    assert client.get("/s/no-such-study/").status_code == 404
    response = client.get(reverse("participant-runner", args=["nope"]))
    assert response.status_code == 404
    assert "no study or session at this address" in response.content.decode()


def test_overlong_external_ids_are_refused(client):
    study = make_study()
    response = client.get(start_url(study, PROLIFIC_PID="x" * 200))
    assert response.status_code == 400
    assert consent(client, study, PROLIFIC_PID="x" * 200).status_code == 400
    assert not Participant.objects.exists()


def test_runner_page_carries_its_configuration(client):
    study = make_study(instructions="Pick the *odd* one.", rating_scale="0-100")
    participant = start_participant(study)
    response = client.get(reverse("participant-runner", args=[participant.token]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<em>odd</em>" in html
    assert f"/api/p/{participant.token}/responses" in html
    assert '"rating": {"min": 0, "max": 100}' in html
    assert "csrftoken" in response.cookies
