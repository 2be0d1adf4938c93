"""Checks that each stored plan is the plan of the exact counts: computed again from its seed,
its block-order row and the main trials of every session before it."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from studyapp.models import Participant
from studyapp.planning import build_plan
from studyapp.selectors.coverage import study_coverage
from studyapp.services.plans import plan_settings
from tests.factories import start_participant

DESIGN = {  # a small study design for start tests: repeats and catches included
    "trials_per_participant": 12,
    "practice_trials": 1,
    "repeat_rate": 0.1,
    "catch_rate": 0.1,
    "target_participants": 100,
}


def start_together(study, pids, threads=6):
    """Start one participant per id, ``threads`` at a time, all released at once."""
    barrier = threading.Barrier(threads)

    def start(pid):
        try:
            if pid in pids[:threads]:
                barrier.wait(timeout=30)
            return start_participant(study, pid).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(start, pids))


def ids_of(study):
    return list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))


def replayed(participant, ids):
    """The participant's plan computed again from the exact counts of every earlier session."""
    coverage = study_coverage(
        study=participant.study,
        position_of={pk: i for i, pk in enumerate(ids)},
        through_pk=participant.pk - 1,
    )
    plan = build_plan(
        len(ids),
        plan_settings(study=participant.study),
        coverage,
        seed=participant.plan_seed,
        order_row=participant.block_order,
    )
    return [(t.trial_type, t.role, [ids[i] for i in t.items]) for t in plan]


def stored(participant):
    return [
        (trial_type, role, items)
        for trial_type, role, items in participant.trials.order_by("index").values_list(
            "trial_type", "role", "items"
        )
    ]


def assert_every_plan_counts_all_earlier_ones(study):
    ids = ids_of(study)
    people = list(Participant.objects.filter(study=study).order_by("pk"))
    assert people
    for participant in people:
        assert stored(participant) == replayed(participant, ids), participant.pk
