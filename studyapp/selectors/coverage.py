"""Coverage of stimulus pairs by the trials already planned or answered in a study."""

from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from studyapp.models import Participant, Study, Trial
from studyapp.planning import Coverage


def study_coverage(*, study: Study, position_of: dict[int, int]) -> dict[str, Coverage]:
    """Pair counts per trial type over main trials that still count for balance.

    A main trial counts when it has been answered, or when its session is completed or still
    active (seen within the session timeout); trials of excluded participants do not count.
    ``position_of`` maps stimulus ids to positions in the stimulus list.
    """
    active_since = timezone.now() - timedelta(minutes=settings.PARTICIPANT_SESSION_TIMEOUT_MINUTES)
    rows = (
        Trial.objects.filter(participant__study=study, participant__excluded=False, role="main")
        .filter(
            Q(response__isnull=False)
            | Q(participant__status=Participant.Status.COMPLETED)
            | Q(participant__last_seen_at__gte=active_since)
        )
        .values_list("trial_type", "items")
    )
    by_type: dict[str, list[list[int]]] = {}
    for trial_type, items in rows:
        by_type.setdefault(trial_type, []).append([position_of[i] for i in items])
    coverage = {}
    for trial_type, trials in by_type.items():
        counts = Coverage(len(position_of))
        counts.add_many(np.asarray(trials), references_first=trial_type == "afc")
        coverage[trial_type] = counts
    return coverage
