"""The coverage a new plan starts from, kept per process and brought up to date incrementally.

Reading a study's whole coverage (``study_coverage``) costs time that grows with the study;
a start needs the counts exact: every plan committed before it, and no trials of sessions
that stopped counting. Each process keeps a snapshot per study: the counts of the sessions
up to a participant key (``through_pk``) and how each of those sessions counted
(``sessions``: key -> kept). Under the study's planning lock, ``coverage_current`` reads the
sessions again (one small query) and adds the trials of those started since (a few, in a
burst). An exclusion, screening-out, time-out, return or deletion since the snapshot shows as
changed ``sessions`` and makes it read everything again. ``coverage_prepare`` does that full
read before the lock, so a start rarely does it while others wait for it. The snapshot only
ever holds counts read from the database (the planner gets a copy).

Keys of participants grow in commit order because every start inserts its participant under
the same per-study lock; a snapshot bounded by a key therefore never misses a committed plan.
"""

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass

from studyapp.models import Study
from studyapp.planning import Coverage
from studyapp.selectors.coverage import counted_sessions, study_coverage

MAX_STUDIES = 4  # snapshots kept per process (1,000 stimuli: ~16 MB per trial type)


@dataclass
class CoverageSnapshot:
    """A study's coverage counted over its sessions with keys up to ``through_pk``."""

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
    if snapshot is None or not _unchanged(snapshot, counted_sessions(study=study)):
        _store(study.pk, _read_all(study, stimulus_ids))


def coverage_current(*, study: Study, stimulus_ids: tuple[int, ...]) -> dict[str, Coverage]:
    """Under the planning lock: the exact coverage now, as a copy the planner may change.

    The snapshot itself only ever holds counts read from the database, so a plan that is
    changed after it was computed, or whose transaction fails, leaves nothing to undo: the
    next start reads the stored trials of this one with those started since."""
    sessions = counted_sessions(study=study)
    snapshot = _cached(study.pk, stimulus_ids)
    if snapshot is None or not _unchanged(snapshot, sessions):
        snapshot = _read_all(study, stimulus_ids)
    else:
        _add_sessions_since(study, snapshot, sessions)
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
            return  # the planner of another thread stored a newer one meanwhile
        _snapshots[study_pk] = snapshot
        _snapshots.move_to_end(study_pk)
        while len(_snapshots) > MAX_STUDIES:
            _snapshots.popitem(last=False)


def _unchanged(snapshot: CoverageSnapshot, sessions: dict[int, bool]) -> bool:
    """Whether the snapshot's sessions still count as they did when they were counted."""
    with _guard:
        through_pk, counted = snapshot.through_pk, dict(snapshot.sessions)
    return {pk: kept for pk, kept in sessions.items() if pk <= through_pk} == counted


def _read_all(study: Study, stimulus_ids: tuple[int, ...]) -> CoverageSnapshot:
    # The sessions first, then the trials up to the largest key among them: a session that
    # changes between the two reads shows as changed at the next check (and is read again).
    sessions = counted_sessions(study=study)
    through_pk = max(sessions, default=0)
    coverage = study_coverage(
        study=study, position_of=_positions(stimulus_ids), through_pk=through_pk
    )
    return CoverageSnapshot(stimulus_ids, through_pk, sessions, coverage)


def _add_sessions_since(
    study: Study, snapshot: CoverageSnapshot, sessions: dict[int, bool]
) -> None:
    """Add the trials of the sessions started since the snapshot (committed: we hold the lock)."""
    new = {pk: kept for pk, kept in sessions.items() if pk > snapshot.through_pk}
    if not new:
        return
    study_coverage(
        study=study,
        position_of=_positions(snapshot.stimulus_ids),
        after_pk=snapshot.through_pk,
        through_pk=max(new),
        into=snapshot.coverage,
    )
    with _guard:
        snapshot.sessions.update(new)
        snapshot.through_pk = max(new)


def _positions(stimulus_ids: tuple[int, ...]) -> dict[int, int]:
    return {pk: position for position, pk in enumerate(stimulus_ids)}
