"""Order and position balance of stored plans: Latin-square rows by kept sessions, screen
positions per stimulus, and the 2AFC reference-candidate pairs the analysis counts."""

from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from studyapp.models import Participant, StudyMembership, Trial
from studyapp.planning import block_orders
from studyapp.selectors.coverage import plan_balance
from tests.factories import make_stimulus_set, make_study, start_participant

pytestmark = pytest.mark.django_db

TYPES = ["triplet", "afc", "rating"]  # 3 blocks: a Williams square of 6 rows


def complete(people):
    now = timezone.now()
    Participant.objects.filter(pk__in=[p.pk for p in people]).update(
        status=Participant.Status.COMPLETED, completed_at=now
    )


def drop(people):
    stale = timezone.now() - timedelta(days=2)  # left long ago without completing
    Participant.objects.filter(pk__in=[p.pk for p in people]).update(last_seen_at=stale)


def stimulus_ids(study):
    return list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))


def main_items(people):
    return Trial.objects.filter(participant__in=people, role="main")


def position_counts(people, ids, trial_type):
    counts = np.zeros((len(ids), 3), dtype=int)
    for items in main_items(people).filter(trial_type=trial_type).values_list("items", flat=True):
        for slot, stimulus in enumerate(items):
            counts[ids.index(stimulus), slot] += 1
    return counts


def offered_pairs(people, ids):
    """2AFC reference-candidate pair counts, upper triangle."""
    offered = np.zeros((len(ids), len(ids)), dtype=int)
    for reference, *candidates in (
        main_items(people).filter(trial_type="afc").values_list("items", flat=True)
    ):
        for candidate in candidates:
            offered[ids.index(reference), ids.index(candidate)] += 1
    return (offered + offered.T)[np.triu_indices(len(ids), 1)]


def stored_block_order(participant):
    blocks = dict(
        Trial.objects.filter(participant=participant).values_list("block", "trial_type").distinct()
    )
    return tuple(TYPES.index(blocks[b]) for b in sorted(blocks))


def test_block_orders_are_balanced_by_kept_sessions_and_dropouts_free_their_rows():
    study = make_study(trial_types=TYPES, trials_per_participant=6)
    rows = block_orders(len(TYPES))
    first = [start_participant(study) for _ in rows]
    assert sorted(p.block_order for p in first) == list(range(len(rows)))
    for person in first:  # the stored trials follow the recorded row
        assert stored_block_order(person) == rows[person.block_order]

    complete(first[:3])
    drop(first[3:5])
    excluded = first[5]
    Participant.objects.filter(pk=excluded.pk).update(excluded=True)
    freed = sorted(p.block_order for p in first[3:])

    later = [start_participant(study) for _ in freed]
    assert sorted(p.block_order for p in later) == freed
    for person in later:
        assert stored_block_order(person) == rows[person.block_order]

    # Kept sessions (3 completed, 3 active) now cover every row exactly once.
    kept = [*first[:3], *later]
    assert np.bincount([p.block_order for p in kept], minlength=len(rows)).tolist() == [1] * 6


@pytest.mark.parametrize(("trial_type", "slots"), [("triplet", [0, 1, 2]), ("afc", [1, 2])])
def test_each_stimulus_is_shown_equally_often_at_each_screen_position(trial_type, slots):
    study = make_study(make_stimulus_set(12), trial_types=[trial_type], trials_per_participant=30)
    people = [start_participant(study) for _ in range(12)]
    shown = position_counts(people, stimulus_ids(study), trial_type)[:, slots]
    # 12 x 30 trials: every stimulus about 90 (triplet) or 60 (2AFC candidate) times, split
    # over the positions within 2 of each other (random placement: a spread of about 10).
    assert shown.sum() == 12 * 30 * len(slots)
    assert (shown.max(axis=1) - shown.min(axis=1)).max() <= 2


def test_afc_reference_candidate_pairs_are_balanced():
    """The case of the issue: 33 participants x 300 trials on 40 faces (was 17 to 34)."""
    study = make_study(
        make_stimulus_set(40),
        trial_types=["afc"],
        trials_per_participant=300,
        practice_trials=0,
        repeat_rate=0.0,
        catch_rate=0.0,
    )
    people = [start_participant(study) for _ in range(33)]
    pairs = offered_pairs(people, stimulus_ids(study))
    assert pairs.sum() == 33 * 300 * 2  # 19800 over 780 pairs: 25.4 each
    assert pairs.max() - pairs.min() <= 2


def test_the_coverage_view_shows_block_orders_and_balance(client, django_user_model):
    study = make_study(trial_types=TYPES, trials_per_participant=12)
    people = [start_participant(study) for _ in range(6)]
    drop(people[:1])
    kept = people[1:]
    balance = plan_balance(study=study)

    rows = block_orders(len(TYPES))
    assert [row["order"] for row in balance["block_orders"]] == [
        [TYPES[i] for i in order] for order in rows
    ]
    expected = np.bincount([p.block_order for p in kept], minlength=len(rows)).tolist()
    assert [row["kept"] for row in balance["block_orders"]] == expected
    assert expected[people[0].block_order] == 0  # the dropped session's row is free

    ids = stimulus_ids(study)
    by_type = {entry["trial_type"]: entry for entry in balance["trial_types"]}
    pairs = offered_pairs(kept, ids)
    assert (by_type["afc"]["pair_min"], by_type["afc"]["pair_max"]) == (pairs.min(), pairs.max())
    shown = position_counts(kept, ids, "triplet")
    spread = (shown.max(axis=1) - shown.min(axis=1)).max()
    assert by_type["triplet"]["position_spread"] == spread

    owner = django_user_model.objects.create_user("owner", password="pw-owner-1")
    StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.VIEWER)
    client.force_login(owner)
    page = client.get(reverse("research-study", args=[study.slug])).content.decode()
    assert f'data-order-row="{people[0].block_order}">0<' in page
    assert " → ".join(TYPES) in page
