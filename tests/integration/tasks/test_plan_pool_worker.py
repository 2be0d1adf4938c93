"""A real worker keeps a live study's pool of plans topped up: when the study goes live, when
the starts take it down to half, and from the periodic sweep."""

import time

import pytest

from studyapp.models import PooledPlan, Study
from studyapp.services.plan_pool import plan_pools_top_up
from studyapp.services.studies import study_set_status
from tests.factories import make_stimulus_set, make_study, start_participant
from tests.plan_replay import assert_every_plan_counts_all_earlier_ones
from tests.worker import Worker, purge_broker, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

POOL_SIZE = 6


@pytest.fixture(scope="module")
def pool_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    purge_broker()
    media = tmp_path_factory.mktemp("pool-worker-media")
    log = tmp_path_factory.mktemp("pool-worker-log") / "worker.log"
    environment = worker_environment(
        media, FACESIM_PLAN_POOL_SIZE=str(POOL_SIZE), FACESIM_REQUEUE_INTERVAL_S="0"
    )
    process = Worker(environment, log, name="pool").start()
    yield process
    process.stop()


def pool_reaches(study, size: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while (count := PooledPlan.objects.filter(study=study).count()) != size:
        if time.monotonic() > deadline:
            return count
        time.sleep(0.2)
    return count


def test_the_worker_fills_the_pool_at_going_live_and_when_starts_take_it_to_half(
    pool_worker, settings
):
    settings.FACESIM_PLAN_POOL_SIZE = POOL_SIZE
    study = make_study(make_stimulus_set(20), status=Study.Status.DRAFT, trials_per_participant=10)

    study_set_status(study=study, status=Study.Status.LIVE, user=None)
    assert pool_reaches(study, POOL_SIZE) == POOL_SIZE
    first_plans = list(PooledPlan.objects.filter(study=study).values_list("pk", flat=True))
    for i in range(POOL_SIZE // 2):
        start_participant(study, f"p{i}")  # the last one leaves half: a fill is asked for

    assert pool_reaches(study, POOL_SIZE) == POOL_SIZE
    assert PooledPlan.objects.filter(study=study).exclude(pk__in=first_plans).count() == 3
    for i in range(POOL_SIZE + 2):
        start_participant(study, f"q{i}")
    assert_every_plan_counts_all_earlier_ones(study)


def test_the_periodic_sweep_asks_for_the_fills_that_are_due(pool_worker, settings):
    settings.FACESIM_PLAN_POOL_SIZE = POOL_SIZE
    low = make_study(make_stimulus_set(12))
    full = make_study(make_stimulus_set(12), target_participants=1)
    start_participant(full, "the-only-one")

    asked = plan_pools_top_up()

    assert low.pk in asked
    assert full.pk not in asked
    assert pool_reaches(low, POOL_SIZE) == POOL_SIZE
