"""The per-study timing guards: the RT floor on the server, the minimum exposure in the plan."""

import json

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from studyapp.forms import StudyForm
from studyapp.models import Response
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db


def post_response(participant, body):
    return Client().post(
        reverse("api-responses", args=[participant.token]),
        json.dumps(body),
        content_type="application/json",
    )


@pytest.mark.parametrize("rt_ms", [5e-324, 1e-9, 0.5, 119.999])
def test_an_rt_below_the_study_floor_is_refused_and_nothing_is_stored(rt_ms):
    study = make_study(min_rt_ms=120, min_exposure_ms=150)
    participant = start_participant(study)
    trial = participant.trials.filter(role="main").first()
    response = post_response(participant, {**answer_for(trial, study), "rt_ms": rt_ms})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("implausible_rt", "rt_ms")
    assert "120" in error["message"]
    assert not Response.objects.filter(trial=trial).exists()


def test_an_rt_at_the_floor_is_stored():
    study = make_study(min_rt_ms=120, min_exposure_ms=150)
    participant = start_participant(study)
    trial = participant.trials.filter(role="main").first()
    response = post_response(participant, {**answer_for(trial, study), "rt_ms": 120})
    assert response.status_code == 201, response.json()
    assert Response.objects.get(trial=trial).rt_ms == 120


def test_the_default_floor_refuses_the_smallest_positive_rt():
    study = make_study()
    assert (study.min_rt_ms, study.min_exposure_ms) == (100, 150)
    participant = start_participant(study)
    trial = participant.trials.first()
    response = post_response(participant, {**answer_for(trial, study), "rt_ms": 5e-324})
    assert response.status_code == 422


def test_the_plan_carries_the_minimum_exposure():
    study = make_study(min_exposure_ms=250, min_rt_ms=200)
    participant = start_participant(study)
    plan = Client().get(reverse("api-plan", args=[participant.token])).json()
    assert plan["min_exposure_ms"] == 250


def test_a_floor_above_the_minimum_exposure_is_refused_by_the_database():
    with (
        pytest.raises(IntegrityError, match="study_rt_floor_within_exposure"),
        transaction.atomic(),
    ):
        make_study(min_exposure_ms=100, min_rt_ms=101)


def test_the_study_form_explains_a_floor_above_the_minimum_exposure():
    study = make_study()
    data = {
        field: json.dumps(value) if field == "analysis_settings" else value
        for field, value in StudyForm(instance=study).initial.items()
    }
    data.update(face_models=[], min_exposure_ms=100, min_rt_ms=150)
    form = StudyForm(data=data, instance=study)
    assert not form.is_valid()
    assert "The RT floor must not exceed the minimum exposure." in str(form.errors)
    data.update(min_rt_ms=100)
    assert StudyForm(data=data, instance=study).is_valid()
