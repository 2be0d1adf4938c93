"""Erasing one participant's data on request: everything of theirs, nothing of others."""

import pytest
from django.core.management import call_command

from studyapp.models import AuditEvent, Participant, Response, Trial
from studyapp.payloads import parse_response
from studyapp.services.responses import response_record
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


def answered(study, pid):
    participant = start_participant(study, pid)
    for trial in participant.trials.all()[:4]:
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    return participant


def test_deleting_by_external_id_removes_every_session_and_is_audited(capsys):
    first, second = make_study(), make_study()
    answered(first, "erase-me")
    answered(second, "erase-me")
    keep = answered(first, "keep-me")
    call_command("delete_participant_data", "--participant-id", "erase-me", "--dry-run")
    assert "Would delete" in capsys.readouterr().out
    assert Participant.objects.count() == 3
    call_command("delete_participant_data", "--participant-id", "erase-me")
    out = capsys.readouterr().out
    assert out.count("Deleted in") == 2
    assert list(Participant.objects.all()) == [keep]
    assert Trial.objects.exclude(participant=keep).count() == 0
    assert Response.objects.exclude(trial__participant=keep).count() == 0
    events = AuditEvent.objects.filter(action="data_deletion")
    assert events.count() == 2
    assert all(e.detail["responses"] == 4 and "erase-me" not in str(e.detail) for e in events)


def test_scope_to_one_study_and_unknown_ids(capsys):
    first, second = make_study(), make_study()
    answered(first, "both")
    answered(second, "both")
    call_command("delete_participant_data", "--participant-id", "both", "--study", first.slug)
    assert list(Participant.objects.values_list("study__slug", flat=True)) == [second.slug]
    call_command("delete_participant_data", "--participant-id", "nobody")
    assert "No data found" in capsys.readouterr().out
