"""Bubbles trials on the platform: the planner's seeds, the plan the runner gets, and the
response API's checks of a Bubbles answer (seed, count, staircase level, answer)."""

import json
import math

import pandas as pd
import pytest
from django.test import Client

from analysis.bubbles import BubblesDesign, WeightedUpDown
from analysis.io import read_responses
from analysis.study_analysis import RelevanceInputs
from studyapp.forms import StudyForm
from studyapp.models import Response, Stimulus, Trial
from studyapp.planning import PlanSettings, build_plan
from studyapp.selectors.exports import responses_csv_chunks
from studyapp.selectors.studies import study_design_problems
from tasks.computations.report import bubbles_inputs
from tests.factories import analysis_posted, make_stimulus_set, make_study, start_participant
from tests.integration.studyapp.api_client import plan, post

pytestmark = pytest.mark.django_db
BUBBLES = {"label": "gender", "sigma": 3, "start": 30, "target": 0.75, "step": 0.2}


def bubbles_study(**fields):
    return make_study(trial_types=["bubbles"], bubbles=BUBBLES, **fields)


def answer(trial, options, *, correct=True, count=30, level=None, **changes):
    """A Bubbles answer to a plan entry, right or wrong by the stimulus's label."""
    truth = Stimulus.objects.get(pk=trial["items"][0]).labels["gender"]
    choice = options.index(truth) if correct else 1 - options.index(truth)
    level = math.log(count) if level is None else level
    body = {
        "trial": trial["index"],
        "rt_ms": 900.0,
        "choice": choice,
        "bubbles": {"seed": trial["seed"], "count": count, "level": level},
    }
    return {**body, **changes}


def test_planner_gives_each_bubbles_trial_one_face_and_a_stored_seed():
    study = make_study(
        trial_types=["bubbles", "triplet"], bubbles=BUBBLES, trials_per_participant=24
    )
    participant = start_participant(study)
    trials = list(Trial.objects.filter(participant=participant))
    bubbles = [t for t in trials if t.trial_type == "bubbles"]
    assert len(bubbles) == 12 + study.practice_trials  # no repeats or catches in the block
    assert {t.role for t in bubbles} == {"practice", "main"}
    assert all(len(t.items) == 1 and 0 <= t.bubbles_seed < 2**32 for t in bubbles)
    assert len({t.bubbles_seed for t in bubbles}) == len(bubbles)
    assert all(t.bubbles_seed is None for t in trials if t.trial_type == "triplet")
    main = [t.items[0] for t in bubbles if t.role == "main"]
    assert len(set(main)) == 12  # 12 stimuli, 12 main trials: each face once
    # The seeds follow from the plan seed: planning again from it gives the same ones.
    n_items = study.stimulus_set.stimuli.count()
    settings = PlanSettings(["bubbles", "triplet"], 24, study.practice_trials, 0.1, 0.1)
    again = build_plan(n_items, settings, {}, participant.plan_seed, participant.block_order)
    assert [p.bubbles_seed for p in again if p.trial_type == "bubbles"] == [
        t.bubbles_seed for t in bubbles
    ]


@pytest.mark.parametrize(
    ("bubbles", "labels", "problem"),
    [
        ({}, True, "'label' must name a label column"),
        ({**BUBBLES, "label": "identity"}, True, "must have exactly two values"),
        (BUBBLES, False, "Every stimulus needs a value for the label 'gender'"),
        ({**BUBBLES, "sigma": 0}, True, "'sigma' must be a number in [0.5, 500.0]"),
        ({**BUBBLES, "start": 300}, True, "'start' must be at most 'max_count' (200)"),
        ({**BUBBLES, "colour": 1}, True, "Unknown Bubbles setting 'colour'"),
    ],
)
def test_design_problems_name_the_bad_bubbles_setting(bubbles, labels, problem):
    study = make_study(
        make_stimulus_set(labels=labels), trial_types=["bubbles"], bubbles=bubbles, status="draft"
    )
    assert any(problem in p for p in study_design_problems(study=study))


def test_plan_gives_settings_options_seeds_and_never_the_answer(api):
    study = bubbles_study()
    participant = start_participant(study)
    body = plan(api, participant)
    assert body["bubbles"]["options"] == ["female", "male"]
    assert (body["bubbles"]["sigma"], body["bubbles"]["max_count"]) == (3.0, 200)
    seeds = dict(Trial.objects.filter(participant=participant).values_list("index", "bubbles_seed"))
    assert {t["index"]: t["seed"] for t in body["trials"]} == seeds
    text = json.dumps(body)
    assert "correct" not in text
    assert "labels" not in text
    assert "male" not in text.replace('"options": ["female", "male"]', "")  # no label values


def test_answers_are_scored_stored_once_and_their_outcomes_planned_once_answered(api):
    study = bubbles_study()
    participant = start_participant(study)
    body = plan(api, participant)
    options, trials = body["bubbles"]["options"], body["trials"]
    outcomes = [True, False, True, True]
    staircase = WeightedUpDown(start=30, target=0.75, step=0.2)
    for trial, correct in zip(trials, outcomes, strict=False):
        sent = answer(trial, options, correct=correct, count=staircase.count, level=staircase.level)
        first = post(api, participant, sent)
        assert first.status_code == 201, first.json()
        assert first.json()["correct"] is correct
        again = post(api, participant, sent)
        assert (again.status_code, again.json()["duplicate"]) == (200, True)
        stored = Response.objects.get(trial__participant=participant, trial__index=trial["index"])
        assert (stored.correct, stored.bubbles_count) == (correct, staircase.count)
        assert stored.bubbles_level == pytest.approx(staircase.level)
        staircase.update(correct)
    assert Response.objects.filter(trial__participant=participant).count() == len(outcomes)
    planned = plan(api, participant)["trials"]
    assert [t.get("correct") for t in planned[: len(outcomes)]] == outcomes
    assert all("correct" not in t for t in planned[len(outcomes) :])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"bubbles": {"seed": 1, "count": 30, "level": math.log(30)}}, "wrong_seed"),
        ({"count": 0, "level": math.log(30)}, "out_of_range"),
        ({"count": 201, "level": math.log(201)}, "out_of_range"),
        ({"level": math.log(40)}, "inconsistent_level"),
        ({"level": -0.5}, "out_of_range"),
        ({"choice": 2}, "invalid_choice"),
        ({"bubbles": None}, "missing_bubbles"),
        ({"bubbles": {"count": 30, "level": math.log(30)}}, "missing_bubbles"),
        ({"choice": None, "rating": 1}, "unexpected_rating"),
        ({"bubbles": {"seed": "x"}}, "invalid_type"),
    ],
)
def test_bad_bubbles_answers_are_refused_with_a_4xx(api, change, code):
    study = bubbles_study()
    participant = start_participant(study)
    body = plan(api, participant)
    trial = body["trials"][0]
    kwargs = {key: change.pop(key) for key in ("count", "level") if key in change}
    sent = answer(trial, body["bubbles"]["options"], **kwargs)
    sent.update(change)
    sent = {key: value for key, value in sent.items() if value is not None}
    response = post(api, participant, sent)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["code"] == code
    assert not Response.objects.filter(trial__participant=participant).exists()


def test_other_trial_types_refuse_bubbles_parameters(api):
    study = make_study(trial_types=["rating"])
    participant = start_participant(study)
    trial = plan(api, participant)["trials"][0]
    sent = {"trial": trial["index"], "rt_ms": 900.0, "rating": 3}
    sent["bubbles"] = {"seed": 1, "count": 3, "level": 1.1}
    response = post(api, participant, sent)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unexpected_bubbles"


def test_the_long_csv_carries_the_bubbles_parameters_and_analysis_reads_them(api, tmp_path):
    study = make_study(trial_types=["bubbles", "rating"], bubbles=BUBBLES, catch_rate=0.0)
    participant = start_participant(study)
    body = plan(api, participant)
    options = body["bubbles"]["options"]
    answered = []
    for i, trial in enumerate(body["trials"]):
        if trial["type"] == "bubbles":
            count = 20 + i
            sent = answer(trial, options, correct=i % 3 > 0, count=count)
        else:
            sent = {"trial": trial["index"], "rt_ms": 900.0, "rating": 4}
        assert post(api, participant, sent).status_code == 201
        answered.append(trial)
    path = tmp_path / "responses.csv"
    path.write_bytes(b"".join(responses_csv_chunks(study=study)))
    frame = read_responses(path).set_index("trial_index")
    assert len(frame) == len(answered)
    stored = Response.objects.filter(trial__participant=participant).select_related("trial")
    for response in stored:
        row = frame.loc[response.trial.index]
        if response.trial.trial_type == "bubbles":
            stimulus = Stimulus.objects.get(pk=response.trial.items[0])
            assert (row["item_1"], row["choice"]) == (stimulus.name, options[response.choice])
            assert row["correct"] == (options[response.choice] == stimulus.labels["gender"])
            assert row["bubbles_seed"] == response.trial.bubbles_seed
            assert row["bubbles_count"] == response.bubbles_count
            assert row["bubbles_level"] == pytest.approx(response.bubbles_level)
            assert row["bubbles_sigma"] == 3.0
        else:
            assert row[["bubbles_seed", "bubbles_count", "bubbles_sigma"]].isna().all()


def test_analysis_refuses_a_bubbles_row_without_its_parameters(tmp_path):
    study = make_study(trial_types=["bubbles"], bubbles=BUBBLES)
    participant = start_participant(study)
    trial = Trial.objects.filter(participant=participant).first()
    entry = {"index": trial.index, "items": trial.items, "seed": trial.bubbles_seed}
    assert post(Client(), participant, answer(entry, ["female", "male"])).status_code == 201
    path = tmp_path / "responses.csv"
    path.write_bytes(b"".join(responses_csv_chunks(study=study)))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(read_responses(raw)) == 1  # as exported: valid
    with pytest.raises(ValueError, match="bubbles_count, bubbles_sigma"):
        read_responses(raw.assign(bubbles_count=""))


def test_the_study_form_checks_the_bubbles_settings_against_the_set():
    stimulus_set = make_stimulus_set()
    data = {
        "title": "Bubbles",
        "slug": "bubbles-form",
        "stimulus_set": stimulus_set.pk,
        "trial_types": ["bubbles"],
        "rating_scale": "1-7",
        "trials_per_participant": 10,
        "target_participants": 5,
        "practice_trials": 1,
        "break_every": 0,
        "repeat_rate": 0,
        "catch_rate": 0,
        "min_exposure_ms": 150,
        "min_rt_ms": 100,
        "min_viewport_width": 0,
        "min_viewport_height": 0,
        "device_requirement": "any",
        "comprehension_attempts": 2,
        "consent_text": "Agree?",
        "instructions": "Choose.",
        **analysis_posted(),
    }
    bad = StudyForm({**data, "bubbles": json.dumps({**BUBBLES, "step": 5})})
    assert not bad.is_valid()
    assert "'step' must be a number in [0.01, 1.0]" in " ".join(bad.errors["bubbles"])
    three_values = StudyForm({**data, "bubbles": json.dumps({**BUBBLES, "label": "identity"})})
    assert not three_values.is_valid()
    assert "exactly two values" in " ".join(three_values.non_field_errors())
    good = StudyForm({**data, "bubbles": json.dumps(BUBBLES)})
    assert good.is_valid(), good.errors
    assert good.save().bubbles == BUBBLES


def test_the_report_job_gets_the_bubbles_design_from_the_study():
    study = bubbles_study()
    no_responses = pd.DataFrame(columns=["trial_type", "role"])
    inputs = bubbles_inputs(study, responses=no_responses, relevance=RelevanceInputs())
    assert inputs.design == BubblesDesign(height=32, width=32, sigma=3.0)  # factory images
    names = dict(study.stimulus_set.stimuli.values_list("name", "labels__gender"))
    assert inputs.groups == names
    assert set(inputs.groups.values()) == {"female", "male"}
    triplets = make_study(trial_types=["triplet"])
    assert bubbles_inputs(triplets, responses=no_responses, relevance=RelevanceInputs()) is None
    assert inputs.model_answers is None  # the study has no models
