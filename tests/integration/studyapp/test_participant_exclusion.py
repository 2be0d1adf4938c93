"""Excluding and re-including a participant from the dashboard: audited, honoured by the
export and the analysis, and the target counts only the kept participants."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from analysis.io import read_responses
from analysis.quality import apply_exclusions
from studyapp.models import AuditEvent, Participant, StudyMembership
from studyapp.payloads import parse_response
from studyapp.selectors.exports import responses_csv_chunks
from studyapp.services.participants import StudyUnavailable, participant_complete
from studyapp.services.responses import response_record
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    return make_study(target_participants=2, catch_rate=0.0, repeat_rate=0.0)


@pytest.fixture
def collaborator(client, django_user_model, study):
    user = django_user_model.objects.create_user("collab", password="pw-collab-1")
    StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.COLLABORATOR)
    client.force_login(user)
    return client


def finish(study, pid):
    participant = start_participant(study, pid)
    for trial in participant.trials.order_by("index"):
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    return participant_complete(participant=participant)


def post_exclusion(client, participant, **data):
    url = reverse("research-participant-exclusion", args=[participant.study.slug, participant.pk])
    return client.post(url, data)


def test_exclusion_is_audited_and_the_export_and_analysis_drop_the_participant(
    collaborator, study, tmp_path
):
    kept, dropped = finish(study, "kept"), finish(study, "dropped")

    response = post_exclusion(collaborator, dropped, excluded="1", reason="  eyes closed  ")

    assert response.status_code == 302
    dropped.refresh_from_db()
    assert dropped.excluded
    assert dropped.exclusion_reason == "eyes closed"
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXCLUSION)
    assert event.user.username == "collab"
    assert event.study == study
    assert event.detail == {"participant": dropped.pk, "excluded": True, "reason": "eyes closed"}

    export = tmp_path / "responses.csv"
    export.write_bytes(b"".join(responses_csv_chunks(study=study)))
    frame = read_responses(export)
    statuses = frame.groupby("participant")["participant_status"].first()
    assert statuses[dropped.pseudonym] == "excluded"
    result = apply_exclusions(frame)
    assert set(result.responses["participant"]) == {kept.pseudonym}
    assert "platform_excluded" in set(result.exclusions["rule"])


def test_reinclusion_clears_the_reason_and_is_audited_too(collaborator, study):
    person = finish(study, "person")
    post_exclusion(collaborator, person, excluded="1", reason="fast clicks")
    post_exclusion(collaborator, person, excluded="0", reason="checked the video: fine")

    person.refresh_from_db()
    assert not person.excluded
    assert person.exclusion_reason == ""
    details = list(
        AuditEvent.objects.filter(action=AuditEvent.Action.EXCLUSION)
        .order_by("pk")
        .values_list("detail", flat=True)
    )
    assert [(d["excluded"], d["reason"]) for d in details] == [
        (True, "fast clicks"),
        (False, "checked the video: fine"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"excluded": "1", "reason": "   "}, "'reason'"),
        ({"excluded": "1", "reason": "x" * 501}, "at most 500"),
        ({"excluded": "yes", "reason": "bad"}, "'excluded'"),
        ({"reason": "no choice"}, "'excluded'"),
        ({"excluded": "0", "reason": "already in"}, "already included"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    collaborator, study, data, message
):
    person = start_participant(study, "person")
    response = post_exclusion(collaborator, person, **data)
    assert response.status_code == 302
    assert any(message in str(m) for m in get_messages(response.wsgi_request))
    person.refresh_from_db()
    assert not person.excluded
    assert person.exclusion_reason == ""
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXCLUSION).exists()


def test_a_participant_of_another_study_is_not_found(collaborator, study):
    stranger = start_participant(make_study(), "stranger")
    url = reverse("research-participant-exclusion", args=[study.slug, stranger.pk])
    assert collaborator.post(url, {"excluded": "1", "reason": "r"}).status_code == 404
    assert not Participant.objects.get(pk=stranger.pk).excluded


def test_the_target_counts_kept_participants_so_an_exclusion_reopens_a_place(collaborator, study):
    finish(study, "first")
    second = finish(study, "second")
    with pytest.raises(StudyUnavailable) as refused:
        start_participant(study, "third")
    assert refused.value.reason == "full"

    post_exclusion(collaborator, second, excluded="1", reason="failed every catch")

    third = start_participant(study, "third")
    assert third.study == study
    with pytest.raises(StudyUnavailable):  # 'first' and the active 'third' fill it again
        start_participant(study, "fourth")


def test_the_dashboard_offers_exclusion_to_collaborators(collaborator, study):
    person = finish(study, "person")
    page = collaborator.get(reverse("research-study", args=[study.slug])).content.decode()
    assert f'data-exclusion="{person.pk}"' in page
    assert "Exclude" in page


def test_the_admin_shows_exclusion_but_leaves_changes_to_the_audited_service(staff_client, study):
    person = start_participant(study, "person")
    url = reverse("admin:studyapp_participant_change", args=[person.pk])
    staff_client.post(url, {"excluded": "on", "exclusion_reason": "unaudited"})
    person.refresh_from_db()
    assert not person.excluded
    assert person.exclusion_reason == ""
