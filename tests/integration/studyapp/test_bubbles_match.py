"""Match-to-reference Bubbles on the platform: the plan's candidates, the design checks, the
response API's scoring, the long CSV and the analysis of its rows."""

import json
import math
import random

import numpy as np
import pytest

from analysis.bubbles import BubblesDesign, participant_accumulators
from analysis.io import read_responses
from studyapp.bots import random_answer
from studyapp.models import Response, Stimulus, Trial
from studyapp.selectors.coverage import study_coverage
from studyapp.selectors.exports import responses_csv_chunks
from studyapp.selectors.studies import study_design_problems
from tests.factories import make_stimulus_set, make_study, start_participant
from tests.integration.studyapp.api_client import plan, post

pytestmark = pytest.mark.django_db
MATCH = {"label": "identity", "task": "match", "sigma": 3, "start": 30, "step": 0.2}


def identity(pk: int) -> str:
    return Stimulus.objects.get(pk=pk).labels["identity"]


def answer(trial, choice, count=30):
    bubbles = {"seed": trial["seed"], "count": count, "level": math.log(count)}
    return {"trial": trial["index"], "rt_ms": 900.0, "choice": choice, "bubbles": bubbles}


def test_each_match_trial_shows_a_reference_its_identity_and_another():
    study = make_study(trial_types=["bubbles"], bubbles=MATCH, trials_per_participant=12)
    participants = [start_participant(study) for _ in range(3)]
    for participant in participants:
        trials = list(Trial.objects.filter(participant=participant))
        assert len(trials) == 12 + study.practice_trials
        for trial in trials:
            reference, left, right = trial.items
            target = trial.correct_item
            foil = right if target == left else left
            assert target in (left, right)
            assert target != reference
            assert identity(target) == identity(reference) != identity(foil)
        main = [t for t in trials if t.role == "main"]
        assert sorted(t.items[0] for t in main) == sorted(
            study.stimulus_set.stimuli.values_list("pk", flat=True)
        )  # 12 faces, 12 main trials: each face the reference once
        assert sum(t.correct_item == t.items[1] for t in main) == 6  # target left in half
    # the stored trials recount to the coverage the planner balanced: references only
    ids = study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)
    coverage = study_coverage(study=study, position_of={pk: i for i, pk in enumerate(ids)})
    assert coverage["bubbles"].item_uses.tolist() == [3] * 12


@pytest.mark.parametrize(
    ("bubbles", "problem"),
    [
        ({**MATCH, "task": "odd"}, "'task' must be one of ['label', 'match']"),
        ({**MATCH, "label": "gender", "task": "match"}, None),  # six images per value
        ({**MATCH, "label": "name"}, "Every stimulus needs a value for the label 'name'"),
    ],
)
def test_design_problems_of_match_settings(bubbles, problem):
    study = make_study(trial_types=["bubbles"], bubbles=bubbles, status="draft")
    problems = study_design_problems(study=study)
    assert problems == [] if problem is None else any(problem in p for p in problems), problems


def test_match_needs_two_images_of_every_identity():
    stimulus_set = make_stimulus_set(13)  # the last identity, id6, has one image
    study = make_study(stimulus_set, trial_types=["bubbles"], bubbles=MATCH, status="draft")
    (problem,) = study_design_problems(study=study)
    assert "each with at least two images" in problem
    assert "['id6']" in problem


def test_match_answers_are_scored_by_the_candidate_chosen(api):
    study = make_study(trial_types=["bubbles"], bubbles=MATCH)
    participant = start_participant(study)
    body = plan(api, participant)
    assert (body["bubbles"]["task"], body["bubbles"]["options"]) == ("match", [])
    text = json.dumps(body)
    assert "correct" not in text
    assert 'identity"' not in text.replace('"label": "identity"', "")
    trials = body["trials"]
    trial_rows = Trial.objects.filter(participant=participant)
    targets = dict(trial_rows.values_list("index", "correct_item"))
    for trial, right in zip(trials[:4], [True, False, True, False], strict=False):
        target = targets[trial["index"]]
        foil = next(i for i in trial["items"][1:] if i != target)
        created = post(api, participant, answer(trial, target if right else foil))
        assert created.status_code == 201, created.json()
        assert created.json()["correct"] is right
    assert [t.get("correct") for t in plan(api, participant)["trials"][:4]] == [
        True,
        False,
        True,
        False,
    ]
    trial = trials[4]
    for wrong in (trial["items"][0], 0, 1):  # the reference, or a label answer's index
        refused = post(api, participant, answer(trial, wrong))
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "invalid_choice"
    assert Response.objects.filter(trial__participant=participant).count() == 4


def test_random_bots_answer_match_trials(api):
    study = make_study(trial_types=["bubbles"], bubbles=MATCH, trials_per_participant=6)
    participant = start_participant(study)
    rng = random.Random(3)
    for trial in plan(api, participant)["trials"]:
        sent = {"trial": trial["index"], "rt_ms": 900.0, **random_answer(trial, (1, 7), rng)}
        assert post(api, participant, sent).status_code == 201
    assert Response.objects.filter(trial__participant=participant).count() == 6 + 1


def test_the_long_csv_names_the_candidate_chosen_and_analysis_groups_by_reference(api, tmp_path):
    study = make_study(trial_types=["bubbles", "triplet"], bubbles=MATCH, trials_per_participant=24)
    participant = start_participant(study)
    for trial in plan(api, participant)["trials"]:
        if trial["type"] == "bubbles":
            sent = answer(trial, trial["items"][1 + trial["index"] % 2], count=20)
        else:
            sent = {"trial": trial["index"], "rt_ms": 900.0, "choice": trial["items"][0]}
        assert post(api, participant, sent).status_code == 201
    path = tmp_path / "responses.csv"
    path.write_bytes(b"".join(responses_csv_chunks(study=study)))
    frame = read_responses(path)
    names = dict(Stimulus.objects.values_list("pk", "name"))
    matches = frame[frame["trial_type"] == "bubbles"].set_index("trial_index")
    for response in Response.objects.filter(trial__trial_type="bubbles").select_related("trial"):
        row = matches.loc[response.trial.index]
        items = [names[i] for i in response.trial.items]
        assert [row["item_1"], row["item_2"], row["item_3"]] == items
        assert row["choice"] == names[response.choice]
        assert row["correct"] == (response.choice == response.trial.correct_item)
        assert (row["bubbles_seed"], row["bubbles_count"]) == (response.trial.bubbles_seed, 20)
    accumulators = participant_accumulators(
        matches.reset_index(),
        BubblesDesign(64, 64, 3.0),
        groups=dict.fromkeys(names.values(), "all"),
    )
    (accumulator,) = accumulators["all"].values()
    assert accumulator.n_trials == 12  # the main match trials (practice is not analysed)
    assert accumulator.n_correct == int(
        np.sum(matches.loc[matches["role"] == "main", "correct"].astype(bool))
    )
