"""A report job with a real worker on a study with triplet and Bubbles trials: the similarity
analysis is the triplets', and the report adds the Bubbles classification images per group."""

import io
import math

import pandas as pd
import pytest

from studyapp.models import Artifact, Job
from studyapp.payloads import parse_response
from studyapp.selectors.reports import report_member
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tasks.computations.model_bubbles import _reference_target_foil
from tests.compute_fixtures import small_model, wait_for
from tests.factories import answer_for, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
QUICK_ANALYSIS = {"n_boot": 20, "n_permutations": 50, "n_splits": 5}
BUBBLES = {"label": "gender", "sigma": 3, "start": 20}


def answer(trial, study):
    if trial.trial_type != "bubbles":
        body = answer_for(trial, study, choose=trial.index % 3)
        return {**body, "choice": trial.correct_item} if trial.role == "catch" else body
    bubbles = {"seed": trial.bubbles_seed, "count": 20, "level": math.log(20)}
    return {"trial": trial.index, "rt_ms": 900.0, "choice": trial.index % 2, "bubbles": bubbles}


def take_part(study, prefix: str, participants: int, rule=answer) -> None:
    """`participants` sessions answer every trial of `study` by `rule`, then complete."""
    for p in range(participants):
        participant = start_participant(study, f"{prefix}-{p}")
        for trial in participant.trials.order_by("index"):
            payload = parse_response(rule(trial, study))
            response_record(token=participant.token, payload=payload)
        participant_complete(participant=participant)


def report_of(study) -> Artifact:
    """The study's report, from a report job that must succeed."""
    job = job_launch(
        kind=Job.Kind.REPORT,
        stimulus_set=study.stimulus_set,
        face_models=[],
        params=QUICK_ANALYSIS,
        study=study,
    )
    job = wait_for(job, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error
    return Artifact.objects.get(kind=Artifact.Kind.REPORT, job=job)


def table_of(report: Artifact, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(report_member(report, f"tables/{name}.csv")))


def gender_and_identity_models(prefix: str):
    identities = [f"id{i:02d}" for i in range(6)]
    return (
        small_model(f"{prefix}-gender"),
        small_model(f"{prefix}-identity", classes=identities, task="identity"),
    )


def test_a_report_on_triplets_and_bubbles_has_the_decision_weighting_section(worker, media):
    study = make_study(
        trial_types=["triplet", "bubbles"], bubbles=BUBBLES, trials_per_participant=40
    )
    take_part(study, "bubbles-report", 4)
    report = report_of(study)
    assert report.summary["trial_type"] == "triplet"
    page = report_member(report, "index.html").decode()
    assert "<h2>Decision weighting: humans vs models</h2>" in page
    regions = table_of(report, "bubbles_regions")
    assert sorted(set(regions["group"])) == ["all", "female", "male"]  # "all": pooled
    assert set(regions["participants"]) == {4}
    assert report_member(report, "figures/bubbles_classification_images.png")
    assert report_member(report, "figures/bubbles_decision_maps.png")  # over the mean faces


def test_models_answer_the_participants_bubbles_trials_and_are_sanity_checked(worker, media, faces):
    """The gender model answers every main Bubbles trial (the identity model cannot judge
    gender); its classification images are compared with its own relevance (faithfulness)
    and with the participants'; both models get the sanity checks; the generated faces'
    part masks give the significant pixels per part."""
    gender, identity = gender_and_identity_models("report-bubbles")
    study = make_study(
        faces, trial_types=["triplet", "bubbles"], bubbles=BUBBLES, trials_per_participant=40
    )
    study.face_models.set([gender, identity])
    take_part(study, "model-bubbles", 3)
    relevance = job_launch(
        kind=Job.Kind.RELEVANCE,
        stimulus_set=faces,
        face_models=[gender, identity],
        params={"target": "predicted"},
    )
    assert wait_for(relevance, timeout=300).status == Job.Status.SUCCEEDED
    report = report_of(study)

    main_bubbles = study.participants.filter(trials__trial_type="bubbles", trials__role="main")
    everyone = table_of(report, "bubbles_model_accuracy")
    skipped = everyone[everyone["trials"] == 0].set_index("model")["note"]
    assert skipped.to_dict() == {identity.name: "trained for 'identity', not 'gender'"}
    accuracy = everyone[everyone["trials"] > 0]
    assert set(accuracy["model"]) == {gender.name}
    assert accuracy.query("group != 'all'")["trials"].sum() == main_bubbles.count()
    assert sorted(accuracy["group"]) == ["all", "female", "male"]
    assert accuracy.set_index("group").loc["all", "trials"] == main_bubbles.count()
    agreement = table_of(report, "bubbles_agreement")
    faithful = table_of(report, "bubbles_faithfulness")
    mapped = set(accuracy.loc[accuracy["note"].isna(), "group"])  # enough errors for a map
    # (an untrained model may answer one gender always: no errors there, no map)
    assert set(agreement.loc[agreement["map"] == "bubbles", "group"]) == mapped
    assert set(faithful["group"]) == mapped
    assert set(agreement.loc[agreement["map"] == "relevance", "model"]) == {
        gender.name,
        identity.name,
    }
    assert set(faithful["model"]) <= {gender.name}
    assert (faithful["ci_low"] <= faithful["ci_high"]).all()
    # each face with a human map (here few: 60 trials over 24 faces) vs each model's map of it
    stimuli = table_of(report, "bubbles_stimuli")
    assert sorted(stimuli["stimulus"]) == sorted(faces.stimuli.values_list("name", flat=True))
    mapped_faces = set(stimuli.loc[stimuli["note"].isna(), "stimulus"])
    per_image = table_of(report, "bubbles_image_agreement")
    assert len(per_image) == 2 * len(mapped_faces)
    assert set(per_image["stimulus"]) == mapped_faces
    verdicts = table_of(report, "sanity_verdicts")
    assert sorted(verdicts["model"]) == sorted([gender.name, identity.name])
    assert set(verdicts["method"]) == {"epsilon_plus_flat"}
    randomisation = table_of(report, "sanity_randomisation")
    assert len(randomisation) == 2 * 6  # 4 convolutions, 2 linear layers each
    parts = table_of(report, "bubbles_parts")
    assert {"left_eye", "right_eye", "nose", "mouth"} <= set(parts["part"])
    page = report_member(report, "index.html").decode()
    assert "<h2>Sanity checks</h2>" in page
    assert "Model accuracy on the Bubbles trials of the participants" in page


def match_answer(trial, study):
    if trial.trial_type != "bubbles":
        return answer(trial, study)
    bubbles = {"seed": trial.bubbles_seed, "count": 20, "level": math.log(20)}
    choice = trial.items[1 + trial.index % 2]
    return {"trial": trial.index, "rt_ms": 900.0, "choice": choice, "bubbles": bubbles}


def test_every_model_with_an_embedding_takes_a_match_to_reference_bubbles_test(
    worker, media, faces
):
    """Matching identities, the study's models (whatever their task) answer by their
    embeddings; maps are pooled over the references ("all")."""
    gender, identity = gender_and_identity_models("match-bubbles")
    match = {"label": "identity", "task": "match", "sigma": 3, "start": 20}
    study = make_study(
        faces, trial_types=["triplet", "bubbles"], bubbles=match, trials_per_participant=48
    )
    study.face_models.set([gender, identity])
    take_part(study, "match-bubbles", 3, rule=match_answer)
    report = report_of(study)

    main_bubbles = study.participants.filter(trials__trial_type="bubbles", trials__role="main")
    regions = table_of(report, "bubbles_regions")
    assert set(regions["group"]) == {"all"}
    assert set(regions["trials"]) == {main_bubbles.count()}
    accuracy = table_of(report, "bubbles_model_accuracy")
    assert sorted(accuracy["model"]) == sorted([gender.name, identity.name])
    assert set(accuracy["group"]) == {"all"}
    assert set(accuracy["trials"]) == {main_bubbles.count()}
    assert accuracy["accuracy"].between(0, 1).all()


def test_the_target_of_a_match_row_follows_from_the_choice_and_its_correctness():
    trials = pd.DataFrame(
        {
            "item_1": ["r", "r", "r", "r"],
            "item_2": ["a", "a", "a", "a"],
            "item_3": ["b", "b", "b", "b"],
            "choice": ["a", "a", "b", "b"],
            "correct": [True, False, True, False],
        }
    )
    rows = trials[["item_1", "item_2", "item_3"]].apply(lambda c: c.map({"r": 0, "a": 1, "b": 2}))
    found = _reference_target_foil(trials, rows)
    assert found.tolist() == [[0, 1, 2], [0, 2, 1], [0, 2, 1], [0, 1, 2]]
