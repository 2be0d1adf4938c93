"""Researcher basics: the study overview numbers and the streaming long-format CSV export."""

import csv
import io

import pytest
from django.urls import reverse

from analysis.io import OPTIONAL_COLUMNS, RESPONSE_COLUMNS
from studyapp.models import Participant, Response
from studyapp.payloads import parse_response
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


def answer_all(participant, study, *, wrong_catches=False):
    for trial in participant.trials.order_by("index"):
        body = answer_for(trial, study)
        if trial.role == "catch" and wrong_catches and trial.trial_type == "triplet":
            body["choice"] = next(i for i in trial.items if i != trial.correct_item)
        elif trial.role == "catch" and trial.trial_type == "triplet":
            body["choice"] = trial.correct_item
        response_record(token=participant.token, payload=parse_response(body))


@pytest.fixture
def study_with_data():
    study = make_study(trial_types=["triplet"], catch_rate=0.2, repeat_rate=0.1)
    done = start_participant(study, "done")
    answer_all(done, study)
    participant_complete(participant=done)
    sloppy = start_participant(study, "sloppy")
    answer_all(sloppy, study, wrong_catches=True)
    Participant.objects.filter(pk=sloppy.pk).update(excluded=True, exclusion_reason="catch")
    start_participant(study, "fresh")
    study.declined_count = 4
    study.save()
    return study


def test_overview_shows_the_numbers(staff_client, study_with_data):
    response = staff_client.get(reverse("research-study", args=[study_with_data.slug]))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary["started"] == 3
    assert summary["completed"] == 1
    assert summary["excluded"] == 1
    assert summary["in_progress"] == 2
    assert summary["declined"] == 4
    assert summary["responses"] == Response.objects.count() == 2 * (1 + 10 + 1 + 2)
    assert summary["catch_trials"] == 4
    assert summary["catch_failures"] == 2
    main_rts = sorted(Response.objects.filter(trial__role="main").values_list("rt_ms", flat=True))
    assert summary["median_rt_ms"] == pytest.approx((main_rts[9] + main_rts[10]) / 2)
    assert 'data-stat="started">3<' in response.content.decode()


def test_csv_export_has_one_row_per_response_in_long_format(staff_client, study_with_data):
    response = staff_client.get(reverse("research-responses-csv", args=[study_with_data.slug]))
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == Response.objects.count()
    # The export is exactly what the analysis library reads (with its optional columns).
    assert list(rows[0]) == [*RESPONSE_COLUMNS, *OPTIONAL_COLUMNS]
    names = dict(study_with_data.stimulus_set.stimuli.values_list("pk", "name"))
    for row in rows:
        response_row = Response.objects.select_related("trial__participant").get(
            trial__participant__pseudonym=row["participant"], trial__index=int(row["trial_index"])
        )
        trial = response_row.trial
        assert [row["item_1"], row["item_2"], row["item_3"]] == [names[i] for i in trial.items]
        assert row["choice"] == names[response_row.choice]
        assert float(row["rt_ms"]) == response_row.rt_ms
        assert row["role"] == trial.role
        assert row["received_at"].endswith("Z")
        if trial.role == "repeat":
            assert int(row["repeat_of"]) == trial.repeat_of.index
        if trial.role == "catch":
            assert row["correct"] in {"true", "false"}
    statuses = {row["participant_status"] for row in rows}
    assert statuses == {"completed", "excluded"}


def test_migrations_match_the_models():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
