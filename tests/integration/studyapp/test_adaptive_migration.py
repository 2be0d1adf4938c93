"""Migration 0026 on a database with states of the ensemble era: each state keeps its values
under the new names (ensemble in ``embedding``, information gain in ``mean_entropy``), and the
plan choices that point at it stay."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("studyapp", "0025_facemodel_pretraining_dlib")]
AFTER = [("studyapp", "0026_adaptive_entropy")]
ENSEMBLE = [[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], [[0.1, 0.9], [0.9, 0.1], [0.4, 0.6]]]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_ensemble_states_keep_their_values_and_choices():
    apps = migrate(BEFORE)
    stimulus_set = apps.get_model("studyapp", "StimulusSet").objects.create(name="set")
    study = apps.get_model("studyapp", "Study").objects.create(
        slug="adaptive",
        title="t",
        stimulus_set=stimulus_set,
        trial_types=["triplet"],
        consent_text="c",
        instructions="i",
        adaptive_batch=5,
    )
    participant = apps.get_model("studyapp", "Participant").objects.create(study=study, plan_seed=7)
    state = apps.get_model("studyapp", "AdaptiveState").objects.create(
        study=study,
        version=1,
        seed=2**40,
        participants=5,
        answers=250,
        model="tste",
        n_dims=2,
        stimulus_ids=["a", "b", "c"],
        embeddings=ENSEMBLE,
        pool=[[["a", "b", "c"]]],
        mean_information_gain=0.25,
    )
    apps.get_model("studyapp", "AdaptivePlanChoice").objects.create(
        participant=participant, selection="adaptive", state=state, slot=0
    )
    apps = migrate(AFTER)
    after = apps.get_model("studyapp", "AdaptiveState").objects.get(pk=state.pk)
    assert (after.embedding, after.mean_entropy, after.seed) == (ENSEMBLE, 0.25, 2**40)
    choice = apps.get_model("studyapp", "AdaptivePlanChoice").objects.get()
    assert (choice.participant_id, choice.state_id, choice.slot) == (participant.pk, state.pk, 0)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
