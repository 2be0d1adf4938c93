"""Adaptive triplet selection with a real worker: balanced (recorded) before the first batch,
a cpu fit job after each batch, pool slots handed to the next participants, seeded states."""

import time

import numpy as np
import pytest

from studyapp.models import AdaptivePlanChoice, AdaptiveState, Job
from studyapp.payloads import parse_response
from studyapp.services.jobs import job_launch
from studyapp.services.participants import participant_complete
from studyapp.services.responses import response_record
from tests.compute_fixtures import wait_for
from tests.factories import make_stimulus_set, make_study, start_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Selection = AdaptivePlanChoice.Selection


def take_part(study, pid: str, position_of: dict[int, int]):
    """A simulated observer on a line: the odd one is the item farthest from the other two."""
    participant = start_participant(study, pid)
    for trial in participant.trials.order_by("index"):
        if trial.role == "catch":
            choice = trial.correct_item
        else:
            where = [position_of[pk] for pk in trial.items]
            choice = max(trial.items, key=lambda pk: sum(abs(position_of[pk] - w) for w in where))
        body = {"trial": trial.index, "rt_ms": 900.0, "choice": choice}
        response_record(token=participant.token, payload=parse_response(body))
    participant_complete(participant=participant)
    return participant


def fit_job(study) -> Job:
    deadline = time.monotonic() + 10
    while not (job := Job.objects.filter(study=study, kind=Job.Kind.ADAPTIVE).first()):
        assert time.monotonic() < deadline, "no fit job was launched"
        time.sleep(0.1)
    return job


def main_sets(participant) -> list[frozenset]:
    trials = participant.trials.filter(trial_type="triplet", role="main").order_by("index")
    return [frozenset(t.items) for t in trials]


def test_adaptive_selection_fits_between_batches_and_hands_out_the_pool(worker, media):
    stimuli = make_stimulus_set(12)
    study = make_study(stimuli, trials_per_participant=10, adaptive_batch=2)
    ids = stimuli.stimuli.order_by("pk").values_list("pk", flat=True)
    position_of = {pk: k for k, pk in enumerate(ids)}
    first = [take_part(study, f"adaptive-{p}", position_of) for p in range(2)]
    for participant in first:  # before the first batch: balanced, and the plan says so
        assert participant.adaptive_choice.selection == Selection.NO_STATE
        assert participant.adaptive_choice.state is None
    assert not Job.objects.filter(kind=Job.Kind.ADAPTIVE).exists()

    third = start_participant(study, "adaptive-2")  # a batch is complete: the fit is launched
    assert third.adaptive_choice.selection == Selection.NO_STATE
    job = wait_for(fit_job(study))
    assert job.status == Job.Status.SUCCEEDED, job.error
    state = AdaptiveState.objects.get(study=study)
    assert state.version == 1
    assert state.job_id == job.pk
    assert "model state v1" in job.note
    assert state.participants == 2
    assert state.answers == 2 * (10 + 1)  # main and repeat triplets; catches say nothing
    assert len(state.embedding) == 12  # one row per stimulus
    assert len(state.embedding[0]) == state.n_dims == 6
    assert [len(slot) for slot in state.pool] == [10, 10]
    pooled = [frozenset(t) for slot in state.pool for t in slot]
    assert len(set(pooled)) == len(pooled)
    assert set().union(*pooled) <= set(position_of)
    assert 0 <= state.mean_entropy <= np.log(3)

    fourth, fifth, sixth = (start_participant(study, f"adaptive-{p}") for p in (3, 4, 5))
    for slot, participant in enumerate((fourth, fifth)):
        choice = participant.adaptive_choice
        assert choice.selection == Selection.ADAPTIVE
        assert (choice.state_id, choice.slot) == (state.pk, slot)
        assert main_sets(participant) == [frozenset(t) for t in state.pool[slot]]
        roles = set(participant.trials.values_list("role", flat=True))
        assert {"practice", "main", "repeat", "catch"} <= roles
        for repeat in participant.trials.filter(role="repeat"):
            assert sorted(repeat.items) == sorted(repeat.repeat_of.items)
    assert sixth.adaptive_choice.selection == Selection.POOL_USED

    # the same answers give the same state: a second fit (version 2) draws the same pool
    again = wait_for(
        job_launch(kind=Job.Kind.ADAPTIVE, stimulus_set=stimuli, face_models=[], study=study)
    )
    assert again.status == Job.Status.SUCCEEDED, again.error
    second = AdaptiveState.objects.get(study=study, version=2)
    assert second.seed == state.seed
    assert second.pool == state.pool
    assert second.embedding == state.embedding


def test_a_fit_that_cannot_run_fails_clearly_once_and_planning_stays_balanced(worker, media):
    empty = make_study(make_stimulus_set(6), adaptive_batch=1)
    job = wait_for(
        job_launch(
            kind=Job.Kind.ADAPTIVE, stimulus_set=empty.stimulus_set, face_models=[], study=empty
        )
    )
    assert job.status == Job.Status.FAILED
    assert "no answered triplet trials" in job.error

    # 6 stimuli have 20 triplets: a pool of 3 participants x 10 cannot be filled
    stimuli = make_stimulus_set(6)
    study = make_study(stimuli, adaptive_batch=3)
    ids = stimuli.stimuli.order_by("pk").values_list("pk", flat=True)
    position_of = {pk: k for k, pk in enumerate(ids)}
    for p in range(3):
        take_part(study, f"small-{p}", position_of)
    start_participant(study, "small-3")
    job = wait_for(fit_job(study))
    assert job.status == Job.Status.FAILED
    assert "'n_sets' parameter of select_triplets" in job.error
    later = start_participant(study, "small-4")  # the same answers: not launched again
    assert Job.objects.filter(study=study, kind=Job.Kind.ADAPTIVE).count() == 1
    assert later.adaptive_choice.selection == Selection.NO_STATE
    assert later.trials.filter(role="main").count() == 10
    assert not AdaptiveState.objects.filter(study=study).exists()
