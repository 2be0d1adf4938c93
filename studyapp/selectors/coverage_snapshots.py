"""The coverage a new plan starts from, kept per process and brought up to date incrementally.

Reading a study's whole coverage (``study_coverage``) costs time that grows with the study;
a start needs the counts exact: every plan committed before it, and no trials of sessions
that stopped counting. Each process keeps a snapshot per study: the counts of the
participants up to a key (``through_pk``) and how each of those sessions counted
(``sessions``: key -> kept). Under the study's planning lock, ``coverage_current`` reads the
sessions again (one small query) and adds the participants started since (a few, in a
burst): an exclusion, screening-out, time-out, return or deletion since the snapshot shows
as a changed ``sessions`` and makes it read everything again. ``coverage_prepare`` does that
full read before the lock, so a start rarely does it while others wait.

Keys of participants grow in commit order because every start inserts its participant under
the same per-study lock; a snapshot bounded by a key therefore never misses a committed plan.
"""

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass

from studyapp.models import Study
from studyapp.planning import Coverage
from studyapp.selectors.coverage import counted_sessions, last_participant_pk, study_coverage

MAX_STUDIES = 4  # snapshots kept per process (1,000 stimuli: ~16 MB per trial type)


@dataclass
class CoverageSnapshot:
    """A study's coverage counted over its participants with keys up to ``through_pk``."""

    stimulus_ids: tuple[int, ...]
    through_pk: int
    sessions: dict[int, bool]
    coverage: dict[str, Coverage]


_snapshots: OrderedDict[int, CoverageSnapshot] = OrderedDict()
_guard = threading.Lock()


def coverage_prepare(*, study: Study, stimulus_ids: tuple[int, ...]) -> None:
    """Outside the planning lock: read the study's whole coverage unless this process's
    snapshot of it is still valid."""
    snapshot = _cached(study.pk, stimulus_ids)
    if snapshot is not None and _still_counts(study, snapshot):
        return
    _store(study.pk, _read_all(study, stimulus_ids))


def coverage_current(*, study: Study, stimulus_ids: tuple[int, ...]) -> dict[str, Coverage]:
    """Under the planning lock: the exact coverage now, as a copy the planner may change."""
    snapshot = _cached(study.pk, stimulus_ids)
    if snapshot is None or not _still_counts(study, snapshot):
        snapshot = _read_all(study, stimulus_ids)
    else:
        snapshot = _with_new_participants(study, snapshot)
    _store(study.pk, snapshot)
    return copy.deepcopy(snapshot.coverage)


def _cached(study_pk: int, stimulus_ids: tuple[int, ...]) -> CoverageSnapshot | None:
    with _guard:
        snapshot = _snapshots.get(study_pk)
    if snapshot is None or snapshot.stimulus_ids != stimulus_ids:
        return None
    return snapshot


def _store(study_pk: int, snapshot: CoverageSnapshot) -> None:
    with _guard:
        current = _snapshots.get(study_pk)
        if current is not None and current.through_pk > snapshot.through_pk:
            return  # another thread stored a newer one meanwhile
        _snapshots[study_pk] = snapshot
        _snapshots.move_to_end(study_pk)
        while len(_snapshots) > MAX_STUDIES:
            _snapshots.popitem(last=False)


def _still_counts(study: Study, snapshot: CoverageSnapshot) -> bool:
    """Whether the snapshot's sessions still count as they did when it was read."""
    return counted_sessions(study=study, through_pk=snapshot.through_pk) == snapshot.sessions


def _read_all(study: Study, stimulus_ids: tuple[int, ...]) -> CoverageSnapshot:
    # The key first, then the sessions, then the trials: a session that changes between
    # the last two reads shows as changed at the next check (and is read again).
    through_pk = last_participant_pk(study=study)
    sessions = counted_sessions(study=study, through_pk=through_pk)
    coverage = study_coverage(
        study=study, position_of=_positions(stimulus_ids), through_pk=through_pk
    )
    return CoverageSnapshot(stimulus_ids, through_pk, sessions, coverage)


def _with_new_participants(study: Study, snapshot: CoverageSnapshot) -> CoverageSnapshot:
    """A new snapshot: the old one plus the participants started since it was read."""
    through_pk = last_participant_pk(study=study)
    if through_pk == snapshot.through_pk:
        return snapshot
    after_pk = snapshot.through_pk
    sessions = counted_sessions(study=study, after_pk=after_pk, through_pk=through_pk)
    added = study_coverage(
        study=study,
        position_of=_positions(snapshot.stimulus_ids),
        after_pk=after_pk,
        through_pk=through_pk,
    )
    n_items = len(snapshot.stimulus_ids)
    coverage = copy.deepcopy(snapshot.coverage)
    for trial_type, counts in added.items():
        coverage.setdefault(trial_type, Coverage(n_items)).add_counts(counts)
    return CoverageSnapshot(
        snapshot.stimulus_ids, through_pk, {**snapshot.sessions, **sessions}, coverage
    )


def _positions(stimulus_ids: tuple[int, ...]) -> dict[int, int]:
    return {pk: position for position, pk in enumerate(stimulus_ids)}
