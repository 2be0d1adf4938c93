"""Coverage of stimulus pairs, screen positions and block orders by a study's kept trials."""

from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.db.models import BooleanField, ExpressionWrapper, Func, Q, QuerySet, Value
from django.utils import timezone

from studyapp.models import Participant, PooledPlan, Study, Trial
from studyapp.planning import ITEMS_PER_TRIAL, Coverage, block_orders


def active_since() -> datetime:
    """Sessions seen after this moment are still active."""
    return timezone.now() - timedelta(minutes=settings.PARTICIPANT_SESSION_TIMEOUT_MINUTES)


def _kept_condition() -> Q:
    return Q(status=Participant.Status.COMPLETED) | Q(last_seen_at__gte=active_since())


def kept_sessions(*, study: Study) -> QuerySet[Participant]:
    """Sessions that count towards the target and the balance: not excluded, not screened out,
    and completed or still active; timed-out (dropped) sessions free their place."""
    return (
        study.participants.filter(excluded=False)
        .exclude(screening__in=Participant.SCREENED_OUT)
        .filter(_kept_condition())
    )


def counted_sessions(*, study: Study) -> dict[int, bool]:
    """Sessions whose trials may count for balance (not excluded, not screened out) by key,
    each with whether it is kept (see ``kept_sessions``: all its main trials count) or not
    (timed out: only its answered trials count)."""
    return dict(
        study.participants.filter(excluded=False)
        .exclude(screening__in=Participant.SCREENED_OUT)
        .annotate(kept=ExpressionWrapper(_kept_condition(), output_field=BooleanField()))
        .values_list("pk", "kept")
    )


def block_order_uses(*, study: Study, n_rows: int) -> np.ndarray:
    """How many kept sessions follow each row of the study's block-order Latin square."""
    rows = (
        kept_sessions(study=study)
        .filter(block_order__lt=n_rows)
        .values_list("block_order", flat=True)
    )
    return np.bincount(np.fromiter(rows, dtype=np.int64), minlength=n_rows)


def study_coverage(
    *,
    study: Study,
    position_of: dict[int, int],
    after_pk: int = 0,
    through_pk: int | None = None,
    into: dict[str, Coverage] | None = None,
) -> dict[str, Coverage]:
    """Pair counts per trial type over main trials that still count for balance.

    A main trial counts when it has been answered, or when its session is completed or still
    active (seen within the session timeout); trials of excluded or screened-out participants
    do not count.
    ``position_of`` maps stimulus ids to positions in the stimulus list; only participants with
    keys in ``(after_pk, through_pk]`` are counted (``through_pk`` None: no upper bound).
    The counts are added to ``into`` when given (and it is returned).
    """
    participants = Q(participant__pk__gt=after_pk)
    if through_pk is not None:
        participants &= Q(participant__pk__lte=through_pk)
    rows = (
        Trial.objects.filter(
            participants,
            participant__study=study,
            participant__excluded=False,
            role="main",
        )
        .exclude(participant__screening__in=Participant.SCREENED_OUT)
        .exclude(trial_type="arrangement")  # chosen per participant (lift-the-weakest)
        .filter(
            Q(response__isnull=False)
            | Q(participant__status=Participant.Status.COMPLETED)
            | Q(participant__last_seen_at__gte=active_since())
        )
        .order_by()
        .annotate(size=Func("items", function="cardinality"))
        .values("trial_type", "size")
        # one text per trial type: parsing it is ~20x faster than fetching each items array
        .annotate(flat=StringAgg(Func("items", Value(","), function="array_to_string"), ","))
        .values_list("trial_type", "size", "flat")
    )
    ids = np.fromiter(position_of, dtype=np.int64, count=len(position_of))
    order = np.argsort(ids)
    sorted_ids = ids[order]
    positions = np.fromiter(position_of.values(), dtype=np.int64, count=len(ids))[order]
    coverage: dict[str, Coverage] = {} if into is None else into
    for trial_type, size, flat in rows:
        items = np.array(flat.split(","), dtype=np.int64).reshape(-1, size)
        trials = positions[np.searchsorted(sorted_ids, items)]
        coverage_add(coverage, trial_type, trials, n_items=len(ids))
    return coverage


def coverage_add(
    coverage: dict[str, Coverage], trial_type: str, trials: np.ndarray, *, n_items: int
) -> None:
    """Count main trials of one type, ``trials`` (n_trials, size): positions among ``n_items``
    stimuli in display order, as the balance counts them (as the planner counts a new plan)."""
    if trial_type == "arrangement":  # chosen per participant (lift-the-weakest)
        return
    if trial_type == "bubbles":  # a match-to-reference trial's candidates are not balanced
        trials = trials[:, :1]
    counts = coverage.setdefault(trial_type, Coverage(n_items))
    counts.add_many(trials, references_first=trial_type == "afc")


def pools_plans(study: Study) -> bool:
    """Whether starts of ``study`` take pooled plans (live, not adaptive, pool size > 0)."""
    return (
        settings.FACESIM_PLAN_POOL_SIZE > 0
        and study.status == Study.Status.LIVE
        and not (study.adaptive_batch and "triplet" in study.trial_types)
    )


def plan_balance(*, study: Study) -> dict:
    """The study's coverage view: block-order rows, per trial type the spread of the balanced
    pair counts (2AFC: reference-candidate pairs) and of screen positions, and the plans
    computed ahead (``services.plan_pool``).

    ``position_spread``: the largest difference, over stimuli, between the positions a
    stimulus was shown at most and least (2AFC: left vs right candidate).
    """
    types = list(study.trial_types)
    orders = block_orders(len(types))
    uses = block_order_uses(study=study, n_rows=len(orders))
    ids = study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)
    coverage = study_coverage(study=study, position_of={pk: i for i, pk in enumerate(ids)})
    per_type = []
    for trial_type, counts in coverage.items():
        size = ITEMS_PER_TRIAL[trial_type]
        afc = trial_type == "afc"
        pairs = (counts.offered if afc else counts.pairs)[np.triu_indices(counts.n_items, 1)]
        shown = counts.positions[:, 1 if afc else 0 : size]
        per_type.append(
            {
                "trial_type": trial_type,
                "pair_kind": "reference-candidate" if afc else "co-occurrence",
                "pair_min": int(pairs.min(initial=0)),
                "pair_max": int(pairs.max(initial=0)),
                "position_spread": int((shown.max(axis=1) - shown.min(axis=1)).max(initial=0)),
            }
        )
    return {
        "block_orders": [
            {"row": row, "order": [types[i] for i in order], "kept": int(uses[row])}
            for row, order in enumerate(orders)
        ],
        "trial_types": sorted(per_type, key=lambda entry: types.index(entry["trial_type"])),
        "pool": {
            "pooling": pools_plans(study),
            "ready": PooledPlan.objects.filter(study=study).count(),
            "size": settings.FACESIM_PLAN_POOL_SIZE,
        },
    }
