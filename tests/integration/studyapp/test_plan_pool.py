"""Plans computed ahead of the starts (``services.plan_pool``): handed out oldest first, each the
plan of the exact counts of every plan before it, never more than the open places, dropped
when the design changes, and exact under concurrent starts with a fill running."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from studyapp.models import PooledPlan, Study, StudyMembership
from studyapp.selectors.coverage import pools_plans
from studyapp.services.participants import StudyUnavailable
from studyapp.services.plan_pool import plan_pool_fill
from tests.factories import make_stimulus_set, make_study, start_participant
from tests.plan_replay import DESIGN, assert_every_plan_counts_all_earlier_ones, start_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pool_size(settings):
    settings.FACESIM_PLAN_POOL_SIZE = 6
    return 6


def pooled_seeds(study) -> list[int]:
    return list(PooledPlan.objects.filter(study=study).values_list("plan_seed", flat=True))


@pytest.mark.parametrize(
    "trial_types", [["triplet"], ["afc", "rating"], ["triplet", "arrangement"]]
)
def test_starts_take_pooled_plans_oldest_first_and_each_counts_every_plan_before_it(
    pool_size, trial_types
):
    study = make_study(make_stimulus_set(20), trial_types=trial_types, **DESIGN)

    assert plan_pool_fill(study_id=study.pk) == pool_size
    seeds = pooled_seeds(study)
    people = [start_participant(study, f"p{i}") for i in range(pool_size + 3)]

    assert [p.plan_seed for p in people[:pool_size]] == seeds  # the pool, in its order
    assert not PooledPlan.objects.filter(study=study).exists()  # then they planned themselves
    assert len({p.plan_seed for p in people}) == len(people)
    assert_every_plan_counts_all_earlier_ones(study)


def test_a_fill_counts_the_sessions_and_the_plans_already_pooled(pool_size):
    study = make_study(make_stimulus_set(20), trial_types=["triplet", "rating"], **DESIGN)
    plan_pool_fill(study_id=study.pk)
    for i in range(4):
        start_participant(study, f"early-{i}")

    assert plan_pool_fill(study_id=study.pk) == 4  # back to 6
    for i in range(8):
        start_participant(study, f"late-{i}")

    assert_every_plan_counts_all_earlier_ones(study)
    orders = Counter(study.participants.values_list("block_order", flat=True))
    assert sorted(orders.values()) == [6, 6]  # the two block orders, balanced


def test_a_pool_holds_no_more_plans_than_the_open_places(pool_size):
    study = make_study(make_stimulus_set(12), **{**DESIGN, "target_participants": 3})
    start_participant(study, "first")

    assert plan_pool_fill(study_id=study.pk) == 2
    start_participant(study, "second")
    start_participant(study, "third")
    with pytest.raises(StudyUnavailable) as refused:
        start_participant(study, "fourth")

    assert refused.value.reason == "full"
    assert study.participants.count() == 3
    assert_every_plan_counts_all_earlier_ones(study)


def test_a_changed_design_makes_the_pool_stale_and_the_next_start_drops_it(pool_size):
    study = make_study(make_stimulus_set(15), **DESIGN)
    plan_pool_fill(study_id=study.pk)
    Study.objects.filter(pk=study.pk).update(trials_per_participant=6, repeat_rate=0)

    participant = start_participant(study, "after-the-edit")

    assert not PooledPlan.objects.filter(study=study).exists()
    assert participant.trials.filter(role="main").count() == 6
    assert participant.plan_seed not in pooled_seeds(study)
    assert_every_plan_counts_all_earlier_ones(study)


def test_a_study_that_stopped_taking_participants_loses_its_pool(pool_size):
    study = make_study(make_stimulus_set(12), **DESIGN)
    plan_pool_fill(study_id=study.pk)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)

    assert plan_pool_fill(study_id=study.pk) == 0
    assert not PooledPlan.objects.filter(study=study).exists()


def test_adaptive_studies_and_a_pool_size_of_zero_do_not_pool(settings):
    adaptive = make_study(make_stimulus_set(12), adaptive_batch=5, **DESIGN)
    plain = make_study(make_stimulus_set(12), **DESIGN)
    settings.FACESIM_PLAN_POOL_SIZE = 0

    assert not pools_plans(adaptive)
    assert plan_pool_fill(study_id=adaptive.pk) == 0
    assert plan_pool_fill(study_id=plain.pk) == 0
    start_participant(plain, "plans-itself")
    assert not PooledPlan.objects.exists()


def test_concurrent_starts_with_a_fill_running_each_plan_from_exact_counts(pool_size):
    study = make_study(make_stimulus_set(30), **DESIGN)
    stop = threading.Event()
    fills = []

    def keep_filling():
        try:
            while not stop.is_set():
                fills.append(plan_pool_fill(study_id=study.pk))
        finally:
            connection.close()

    filler = threading.Thread(target=keep_filling)
    filler.start()
    try:
        keys = start_together(study, [f"burst-{i}" for i in range(30)])
    finally:
        stop.set()
        filler.join(timeout=60)

    taken_from_the_pool = sum(fills) - PooledPlan.objects.filter(study=study).count()
    assert len(set(keys)) == 30
    assert 0 < taken_from_the_pool < 30  # both kinds of start happened
    assert_every_plan_counts_all_earlier_ones(study)


def test_the_dashboard_shows_the_plans_computed_ahead(pool_size, client, django_user_model):
    study = make_study(make_stimulus_set(12), **DESIGN)
    owner = django_user_model.objects.create_user("pool-owner", password="pw-owner-1")
    StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.VIEWER)
    client.force_login(owner)
    url = reverse("research-study", args=[study.slug])
    plan_pool_fill(study_id=study.pk)
    start_participant(study, "one")

    page = client.get(url).content.decode()
    assert 'data-plan-pool="5"' in page
    assert "Plans computed ahead for the next starts: 5 of up to 6" in page
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    page = client.get(url).content.decode()
    assert "Plans are computed at each start (the study is not live)" in page
