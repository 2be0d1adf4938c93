"""Coverage counts read from the database equal counts made trial by trial."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from studyapp.models import Participant, Trial
from studyapp.planning import Coverage
from studyapp.selectors.coverage import study_coverage
from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db


def test_coverage_counts_only_trials_that_still_count_for_balance():
    study = make_study(trial_types=["triplet", "afc", "rating"], trials_per_participant=12)
    people = [start_participant(study) for _ in range(5)]
    Participant.objects.filter(pk=people[1].pk).update(excluded=True)
    stale = timezone.now() - timedelta(days=2)  # left long ago, answered nothing
    Participant.objects.filter(pk=people[2].pk).update(last_seen_at=stale)
    ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    position_of = {pk: i for i, pk in enumerate(ids)}

    coverage = study_coverage(study=study, position_of=position_of)

    expected = {}
    counted = [people[0], people[3], people[4]]
    for trial in Trial.objects.filter(participant__in=counted, role="main"):
        counts = expected.setdefault(trial.trial_type, Coverage(len(ids)))
        items = [position_of[i] for i in trial.items]
        counts.add(items, reference=items[0] if trial.trial_type == "afc" else None)
    assert set(coverage) == set(expected) == {"triplet", "afc", "rating"}
    for trial_type, counts in expected.items():
        np.testing.assert_array_equal(coverage[trial_type].pairs, counts.pairs)
        np.testing.assert_array_equal(coverage[trial_type].references, counts.references)
        np.testing.assert_array_equal(coverage[trial_type].positions, counts.positions)
        np.testing.assert_array_equal(coverage[trial_type].offered, counts.offered)
