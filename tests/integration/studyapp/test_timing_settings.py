"""Timing settings (form, plan) and the measured timing and visibility of each response (API,
export, analysis, dashboard)."""

import csv
import io
import json

import pandas as pd
import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from analysis.io import read_responses
from studyapp.forms import StudyForm
from studyapp.models import Response
from studyapp.selectors.dashboard import participant_quality
from studyapp.selectors.exports import responses_csv_chunks
from tests.factories import answer_for, make_study, start_participant
from tests.integration.studyapp.test_study_design import owned_study, posted

pytestmark = pytest.mark.django_db

TIMED = {
    "fixation_ms": 500,
    "exposure_ms": 100,
    "mask": "scrambled",
    "mask_ms": 200,
    "deadline_ms": 3000,
    "iti_ms": 300,
    "practice_feedback": True,
    "blocks": {"rating": {"exposure_ms": None, "mask": "none", "mask_ms": 0}},
}
MASKED = {"exposure_ms": 100, "mask": "noise", "mask_ms": 100}
MEASURED = {
    "timing": {
        "refresh_ms": 16.7,
        "stimulus_onset_ms": 500.9,
        "stimulus_offset_ms": 601.1,
        "too_slow": True,
    },
    "visibility": {"hidden": 2, "blur": 3, "fullscreen_exits": 1},
    "interrupted_attempts": 1,
}


@pytest.fixture
def owner(client, django_user_model):
    user = django_user_model.objects.create_user("owner", password="pw")
    client.force_login(user)
    return user


def edit(client, study, timing) -> dict:
    """Post the edit form with ``timing``; the form's errors (empty when saved)."""
    data = posted(study, timing=json.dumps(timing))
    response = client.post(reverse("research-study-edit", args=[study.slug]), data)
    if response.status_code == 302:
        return {}
    return response.context["form"].errors


def test_the_study_form_stores_per_block_timing(client, owner):
    study = owned_study(owner, status="draft", trial_types=["triplet", "rating"])
    assert edit(client, study, TIMED) == {}
    study.refresh_from_db()
    assert study.timing == TIMED


@pytest.mark.parametrize(
    ("timing", "message"),
    [
        ({"exposure_ms": 5}, "'exposure_ms' must be in [10, 10000] ms; got 5"),
        ({"fixation_ms": "500"}, "'fixation_ms' must be a whole number of ms; got '500'"),
        ({"mask": "blur"}, "'mask' must be one of none, noise, scrambled; got 'blur'"),
        ({"mask": "noise", "mask_ms": 100}, "a mask but no exposure_ms"),
        ({"exposure_ms": 100, "mask": "noise"}, "a mask of 0 ms"),
        ({"fixation": 500}, "Unknown timing setting 'fixation'"),
        ({"blocks": {"afc": {"iti_ms": 0}}}, "names 'afc', not a trial type of this study"),
        ({"blocks": {"rating": {"deadline_ms": 50}}}, "'blocks.rating.deadline_ms' must be in"),
        (
            {
                "exposure_ms": 100,
                "mask": "noise",
                "mask_ms": 100,
                "blocks": {"rating": {"exposure_ms": None}},
            },
            "The rating block has a mask but no exposure_ms",
        ),
        ({"practice_feedback": 1}, "'practice_feedback' must be true or false; got 1"),
        ([], "must be a JSON object"),
    ],
)
def test_the_study_form_refuses_bad_timing_with_a_message_naming_it(client, owner, timing, message):
    study = owned_study(owner, status="draft", trial_types=["triplet", "rating"])
    errors = edit(client, study, timing)
    assert any(message in e for e in errors.get("timing", [])), errors
    study.refresh_from_db()
    assert study.timing == {}


def test_timing_is_frozen_once_a_participant_started(client, owner):
    study = owned_study(owner, timing={"fixation_ms": 500})
    start_participant(study)
    assert StudyForm(instance=study).fields["timing"].disabled
    assert StudyForm(instance=study).fields["require_fullscreen"].disabled
    assert edit(client, study, {"fixation_ms": 0}) == {}
    study.refresh_from_db()
    assert study.timing == {"fixation_ms": 500}


def test_the_database_refuses_timing_that_is_not_an_object():
    with pytest.raises(IntegrityError, match="study_timing_is_object"):
        make_study(timing=[1, 2])


def test_the_plan_gives_each_block_its_settings():
    study = make_study(trial_types=["triplet", "rating"], timing=TIMED, require_fullscreen=True)
    participant = start_participant(study)
    body = Client().get(reverse("api-plan", args=[participant.token])).json()
    assert body["require_fullscreen"] is True
    assert body["timing"]["triplet"] == {k: v for k, v in TIMED.items() if k != "blocks"}
    assert body["timing"]["rating"] == {**body["timing"]["triplet"], **TIMED["blocks"]["rating"]}


def post(participant, body):
    return Client().post(
        reverse("api-responses", args=[participant.token]),
        json.dumps(body),
        content_type="application/json",
    )


def answered(participant, **extra) -> Response:
    trial = participant.trials.filter(role="main").order_by("index").first()
    response = post(participant, {**answer_for(trial, participant.study), **extra})
    assert response.status_code == 201, response.content
    return Response.objects.get(trial=trial)


def test_measured_timing_and_visibility_are_stored_exported_and_read_by_the_analysis():
    study = make_study(timing={"fixation_ms": 500, "exposure_ms": 100})
    participant = start_participant(study)
    response = answered(participant, **MEASURED)
    assert (response.refresh_ms, response.stimulus_onset_ms, response.stimulus_offset_ms) == (
        16.7,
        500.9,
        601.1,
    )
    assert response.too_slow is True
    assert (response.hidden_count, response.blur_count, response.fullscreen_exits) == (2, 3, 1)
    assert response.interrupted_attempts == 1

    text = b"".join(responses_csv_chunks(study=study)).decode()
    (row,) = csv.DictReader(io.StringIO(text))
    assert float(row["exposure_measured_ms"]) == pytest.approx(100.2)
    assert row["too_slow"] == "true"
    assert (row["hidden_count"], row["blur_count"], row["fullscreen_exits"]) == ("2", "3", "1")

    exported = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame = read_responses(exported)
    assert frame["exposure_measured_ms"].tolist() == pytest.approx([100.2])
    assert frame["too_slow"].tolist() == [True]
    assert frame["interrupted_attempts"].tolist() == [1.0]
    # an export from before these columns still reads
    older = exported.drop(columns=["too_slow", "refresh_ms", "exposure_measured_ms"])
    assert "too_slow" not in read_responses(older).columns


def test_responses_without_timing_keep_the_defaults():
    participant = start_participant(make_study())
    response = answered(participant)
    assert response.refresh_ms is None
    assert response.too_slow is False
    assert response.hidden_count == response.interrupted_attempts == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"timing": [1]}, "timing"),
        ({"timing": {"onset": 1}}, "timing"),
        ({"timing": {"stimulus_onset_ms": 200, "stimulus_offset_ms": 100}}, "timing"),
        ({"timing": {"stimulus_onset_ms": -1}}, "timing"),
        ({"timing": {"refresh_ms": 0}}, "timing"),
        ({"timing": {"too_slow": "yes"}}, "timing"),
        ({"visibility": {"hidden": -1}}, "visibility"),
        ({"visibility": {"blur": 1.5}}, "visibility"),
        ({"visibility": {"tabs": 1}}, "visibility"),
        ({"interrupted_attempts": -2}, "interrupted_attempts"),
    ],
)
def test_bad_timing_or_visibility_is_refused_and_nothing_stored(extra, field):
    participant = start_participant(make_study())
    trial = participant.trials.filter(role="main").first()
    response = post(participant, {**answer_for(trial, participant.study), **extra})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Response.objects.exists()


def test_the_dashboard_sums_visibility_per_participant(client, owner):
    study = owned_study(owner)
    restless, calm = start_participant(study), start_participant(study)
    for trial in restless.trials.filter(role="main").order_by("index")[:2]:
        body = {**answer_for(trial, study), **MEASURED}
        assert post(restless, body).status_code == 201
    trial = calm.trials.filter(role="main").first()
    assert post(calm, answer_for(trial, study)).status_code == 201

    quality = {q["pk"]: q for q in participant_quality(study=study)}
    for key, value in {"hidden": 4, "blurs": 6, "fullscreen_exits": 2, "interrupted": 2}.items():
        assert quality[restless.pk][key] == value
        assert quality[calm.pk][key] == 0
    assert (quality[restless.pk]["too_slow"], quality[calm.pk]["too_slow"]) == (2, 0)
    page = client.get(reverse("research-study", args=[study.slug])).content.decode()
    assert "<td data-visibility>4 / 6 / 2</td>" in page
