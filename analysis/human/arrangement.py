"""Dissimilarity from multi-arrangement trials (Kriegeskorte & Mur 2012).

On each trial a participant drags a subset of the stimuli in a circular arena; the on-screen
distances of one arrangement are dissimilarities up to a scale factor of that trial (a subset
of similar items is spread over the whole arena).  **Inverse MDS** puts the trials on a common
scale: start from the evidence-weighted mean of the arrangements' distances (each scaled to
RMS 1), then repeat until the estimate stops changing:

1. scale the estimate to RMS 1 over its observed pairs;
2. scale each arrangement so that the RMS of its distances equals the RMS of the estimate over
   the same pairs;
3. new estimate = per pair the evidence-weighted mean of the scaled distances.

**Evidence weights.** Placement error is about constant on screen, so a pair placed far apart
says more about its dissimilarity ratio than one placed close: the weight of a distance is its
squared on-screen length in arena radii (floored at ``MIN_DISTANCE``, so two faces placed on
each other still count a little), as in the paper.  A pair's evidence is the sum of its
weights; pairs never arranged together have evidence 0 and no estimate (NaN).

**Lift-the-weakest.** The next subset starts from the pair with the weakest evidence and adds,
one at a time, the item whose pairs with the chosen items have the lowest mean evidence (ties
broken at random), until it has ``size`` items.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state, check_real, fail
from analysis.human.choices import pair_index
from analysis.matrices import ParticipantMatrices

MEASURE = "inverse-MDS arrangement distance (Kriegeskorte & Mur 2012)"
MIN_DISTANCE = 0.01  # arena radii: the floor of a distance's evidence weight (squared)


@dataclass(frozen=True)
class Arrangement:
    """One trial: the stimulus indices arranged and their (x, y) positions in arena radii."""

    items: tuple[int, ...]
    positions: np.ndarray

    def __post_init__(self) -> None:
        func = "Arrangement"
        items = tuple(int(i) for i in self.items)
        positions = np.asarray(self.positions, dtype=float)
        if len(items) < 2 or len(set(items)) != len(items):
            raise fail(func, "items", "at least two different stimulus indices", items)
        if positions.shape != (len(items), 2) or not np.isfinite(positions).all():
            raise fail(func, "positions", f"a finite ({len(items)}, 2) array", positions.shape)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "positions", positions)

    def pairs(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """(pair indices, on-screen distances) of every pair in this arrangement."""
        a, b = np.triu_indices(len(self.items), 1)
        codes = np.asarray(self.items)
        distances = np.linalg.norm(self.positions[a] - self.positions[b], axis=1)
        return pair_index(codes[a], codes[b], n_items), distances


@dataclass(frozen=True)
class InverseMDSResult:
    """A participant's estimate: per pair (upper-triangle order) the dissimilarity (RMS 1 over
    observed pairs, NaN where never arranged together), its evidence, and how often it was
    arranged; the iterations run and whether the estimate converged."""

    dissimilarity: np.ndarray
    evidence: np.ndarray
    counts: np.ndarray
    iterations: int
    converged: bool


def _trial_table(
    func: str, arrangements: Sequence[Arrangement], n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trial number, pair index, distance) for every pair of every arrangement."""
    if not arrangements:
        raise fail(func, "arrangements", "at least one arrangement", [])
    parts = []
    for t, arrangement in enumerate(arrangements):
        if max(arrangement.items) >= n_items or min(arrangement.items) < 0:
            raise fail(func, "arrangements", f"stimulus indices in [0, {n_items})", arrangement)
        pairs, distances = arrangement.pairs(n_items)
        parts.append((np.full(len(pairs), t), pairs, distances))
    trial, pairs, distances = (np.concatenate(column) for column in zip(*parts, strict=True))
    return trial, pairs, distances


def _evidence_weights(distances: np.ndarray) -> np.ndarray:
    return np.maximum(distances, MIN_DISTANCE) ** 2


def arrangement_evidence(arrangements: Sequence[Arrangement], *, n_items: int) -> np.ndarray:
    """Per pair the summed evidence weights of the arrangements (0 where never together)."""
    n_pairs = n_items * (n_items - 1) // 2
    if not arrangements:
        return np.zeros(n_pairs)
    _, pairs, distances = _trial_table("arrangement_evidence", arrangements, n_items)
    return np.bincount(pairs, weights=_evidence_weights(distances), minlength=n_pairs)


def _weighted_mean(pairs, values, weights, n_pairs) -> np.ndarray:
    total = np.bincount(pairs, weights=weights, minlength=n_pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            total > 0,
            np.bincount(pairs, weights=weights * values, minlength=n_pairs) / total,
            np.nan,
        )


def _rms_per_trial(trial, values, n_trials) -> np.ndarray:
    """RMS of ``values`` per trial (NaN for a trial without pairs)."""
    counts = np.bincount(trial, minlength=n_trials)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.bincount(trial, weights=values**2, minlength=n_trials) / counts)


def _unit_rms(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to RMS 1 over their finite entries."""
    return values / np.sqrt(np.nanmean(values**2))


def inverse_mds(
    arrangements: Sequence[Arrangement],
    *,
    n_items: int,
    max_iter: int = 1000,
    tol: float = 1e-6,
) -> InverseMDSResult:
    """Estimate one participant's dissimilarities from their arrangements (module docstring).

    Args:
        arrangements: the participant's trials (positions in arena radii).
        n_items: number of stimuli (pair indices follow ``analysis.matrices.upper_indices``).
        max_iter: most rescaling rounds; tol: stop when no pair changes by more than this.

    An arrangement whose distances are all zero carries no scale and is left out.
    """
    func = "inverse_mds"
    n_items = check_int(func, "n_items", n_items, minimum=2)
    max_iter = check_int(func, "max_iter", max_iter, minimum=1)
    tol = check_real(func, "tol", tol, low=0, low_open=True)
    n_pairs = n_items * (n_items - 1) // 2
    trial, pairs, distances = _trial_table(func, arrangements, n_items)
    rms = _rms_per_trial(trial, distances, len(arrangements))
    usable = (rms > 0)[trial]
    trial, pairs, distances = trial[usable], pairs[usable], distances[usable]
    if not len(pairs):
        raise fail(func, "arrangements", "an arrangement with distinct positions", "all collapsed")
    weights = _evidence_weights(distances)
    estimate = _weighted_mean(pairs, distances / rms[trial], weights, n_pairs)
    estimate = _unit_rms(estimate)
    converged, iterations = False, 0
    while not converged and iterations < max_iter:
        iterations += 1
        target = _rms_per_trial(trial, estimate[pairs], len(arrangements))
        scaled = distances * (target / rms)[trial]
        updated = _unit_rms(_weighted_mean(pairs, scaled, weights, n_pairs))
        converged = bool(np.nanmax(np.abs(updated - estimate)) < tol)
        estimate = updated
    return InverseMDSResult(
        dissimilarity=estimate,
        evidence=np.bincount(pairs, weights=weights, minlength=n_pairs),
        counts=np.bincount(pairs, minlength=n_pairs),
        iterations=iterations,
        converged=converged,
    )


def mean_distances(arrangements: Sequence[Arrangement], *, n_items: int) -> np.ndarray:
    """The naive estimate: per pair the mean raw on-screen distance (NaN where never arranged)."""
    n_pairs = n_items * (n_items - 1) // 2
    _, pairs, distances = _trial_table("mean_distances", arrangements, n_items)
    return _weighted_mean(pairs, distances, np.ones_like(distances), n_pairs)


def lift_the_weakest(
    evidence: np.ndarray, *, n_items: int, size: int, random_state=None
) -> list[int]:
    """The next subset: ``size`` stimulus indices covering the pairs with the weakest evidence.

    Args:
        evidence: (n_pairs,) evidence per pair (``InverseMDSResult.evidence``).
        n_items: number of stimuli; size: items in the subset (2..n_items).
        random_state: breaks ties (same seed, same subset).

    Returns the indices in the order they were chosen.
    """
    func = "lift_the_weakest"
    n_items = check_int(func, "n_items", n_items, minimum=2)
    size = check_int(func, "size", size, minimum=2, maximum=n_items)
    evidence = np.asarray(evidence, dtype=float)
    if evidence.shape != (n_items * (n_items - 1) // 2,) or not np.isfinite(evidence).all():
        raise fail(func, "evidence", "a finite vector of one value per pair", evidence.shape)
    rng = check_random_state(func, random_state)
    square = np.zeros((n_items, n_items))
    rows, cols = np.triu_indices(n_items, 1)
    square[rows, cols] = square[cols, rows] = evidence
    jitter = rng.random(evidence.shape)  # ties only: a strict order on equal evidence
    weakest = np.lexsort((jitter, evidence))[0]
    chosen = [int(rows[weakest]), int(cols[weakest])]
    while len(chosen) < size:
        rest = np.setdiff1d(np.arange(n_items), chosen)
        mean_evidence = square[np.ix_(rest, chosen)].mean(axis=1)
        ties = rest[mean_evidence == mean_evidence.min()]
        chosen.append(int(rng.choice(ties)))
    return chosen


def arrangement_matrices(
    responses: pd.DataFrame,
    *,
    stimuli: Sequence[str] | None = None,
    roles: Sequence[str] = ("main",),
    name: str = "human",
) -> ParticipantMatrices:
    """Per-participant inverse-MDS dissimilarities from the export's arrangement trials
    (``positions`` JSON per row); the group matrix is the participants' mean.

    Each participant's estimate has RMS 1 over the pairs they arranged (so participants weigh
    equally); a cell's count is how many of their arrangements held the pair.

    Raises ValueError naming rows whose ``positions`` is not a JSON object of [x, y] pairs.
    """
    func = "arrangement_matrices"
    if "positions" not in responses.columns:
        raise fail(func, "responses", "an export with the 'positions' column", "none")
    rows = responses[
        (responses["trial_type"] == "arrangement") & responses["role"].isin(list(roles))
    ]
    if rows.empty:
        raise fail(func, "responses", "arrangement trials with the given roles", "none")
    parsed = []
    for row, text in rows["positions"].items():
        try:
            positions = json.loads(text)
            names = [str(k) for k in positions]
            xy = np.array(list(positions.values()), dtype=float).reshape(len(names), 2)
        except (TypeError, ValueError, AttributeError) as error:
            raise fail(func, "responses", "positions as JSON {stimulus: [x, y]}", row) from error
        parsed.append((names, xy))
    seen = sorted({n for names, _ in parsed for n in names})
    ids = seen if stimuli is None else [str(s) for s in stimuli]
    index = pd.Index(ids)
    missing = sorted(set(seen) - set(ids))
    if missing:
        raise fail(func, "stimuli", "a list containing every arranged stimulus", missing[:10])
    participants, p_codes = np.unique(rows["participant"].to_numpy(dtype=str), return_inverse=True)
    n = len(ids)
    cells_p, cells_q, sums, counts = [], [], [], []
    for p in range(len(participants)):
        arrangements = [
            Arrangement(tuple(index.get_indexer(names)), xy)
            for (names, xy), code in zip(parsed, p_codes, strict=True)
            if code == p
        ]
        try:
            estimate = inverse_mds(arrangements, n_items=n)
        except ValueError as error:  # every arrangement collapsed onto one point
            raise fail(
                func, "responses", "arrangements with distinct positions", participants[p]
            ) from error
        observed = np.flatnonzero(estimate.counts)
        cells_p.append(np.full(len(observed), p))
        cells_q.append(observed)
        sums.append(estimate.dissimilarity[observed] * estimate.counts[observed])
        counts.append(estimate.counts[observed])
    return ParticipantMatrices(
        np.concatenate(cells_p),
        np.concatenate(cells_q),
        np.concatenate(sums),
        np.concatenate(counts),
        tuple(participants),
        tuple(ids),
        "dissimilarity",
        "participant_mean",
        MEASURE,
        name,
    )


def simulate_arrangement(
    truth: np.ndarray, items: Sequence[int], *, noise: float = 0.05, random_state=None
) -> Arrangement:
    """How a simulated participant arranges ``items``: the subset's true distances laid out in
    2-D by classical MDS, scaled to fill 90 % of the arena (so each trial has its own scale),
    plus Gaussian placement noise of SD ``noise`` arena radii, kept inside the arena.

    Classical MDS is four lines of numpy here (an eigendecomposition), not worth a dependency.
    """
    func = "simulate_arrangement"
    noise = check_real(func, "noise", noise, low=0)
    rng = check_random_state(func, random_state)
    codes = np.asarray(items, dtype=np.int64)
    d = np.asarray(truth, dtype=float)[np.ix_(codes, codes)]
    k = len(codes)
    centring = np.eye(k) - 1.0 / k
    values, vectors = np.linalg.eigh(-0.5 * centring @ (d**2) @ centring)
    top = np.argsort(values)[::-1][:2]
    xy = vectors[:, top] * np.sqrt(np.maximum(values[top], 0))
    radius = np.linalg.norm(xy, axis=1).max()
    xy = 0.9 * xy / radius if radius > 0 else xy
    xy = xy + rng.normal(scale=noise, size=xy.shape)
    length = np.linalg.norm(xy, axis=1, keepdims=True)
    xy = np.where(length > 1, xy / np.maximum(length, 1e-12), xy)
    return Arrangement(tuple(codes.tolist()), xy)


def simulate_arrangement_responses(
    truth: np.ndarray,
    stimuli: Sequence[str],
    *,
    n_participants: int = 8,
    n_trials: int = 8,
    subset_size: int = 6,
    noise: float = 0.05,
    random_state=None,
) -> pd.DataFrame:
    """Arrangement sessions in the export's columns (``analysis.io``): per participant a first
    arrangement of every stimulus, then ``n_trials - 1`` subsets by lift-the-weakest, each laid
    out by `simulate_arrangement` from ``truth`` (an n x n dissimilarity matrix)."""
    rng = check_random_state("simulate_arrangement_responses", random_state)
    names = [str(s) for s in stimuli]
    n = len(names)
    rows = []
    for p in range(n_participants):
        arrangements = [simulate_arrangement(truth, range(n), noise=noise, random_state=rng)]
        while len(arrangements) < n_trials:
            evidence = arrangement_evidence(arrangements, n_items=n)
            subset = lift_the_weakest(evidence, n_items=n, size=subset_size, random_state=rng)
            arrangements.append(simulate_arrangement(truth, subset, noise=noise, random_state=rng))
        for k, arrangement in enumerate(arrangements):
            positions = {
                names[i]: [round(float(x), 5), round(float(y), 5)]
                for i, (x, y) in zip(arrangement.items, arrangement.positions, strict=True)
            }
            rows.append(
                {
                    "study": "simulated",
                    "participant": f"P{p:03d}",
                    "participant_status": "completed",
                    "trial_index": k,
                    "block": 0,
                    "trial_type": "arrangement",
                    "role": "main",
                    "rt_ms": float(rng.uniform(5000, 30000)),
                    "responded_at": "2026-01-01T00:00:00Z",
                    "received_at": "2026-01-01T00:00:01Z",
                    "positions": json.dumps(positions),
                }
            )
    blank = dict.fromkeys(("repeat_of", "item_1", "item_2", "item_3", "choice"), "")
    blank |= dict.fromkeys(("rating", "rating_min", "rating_max", "correct"), "")
    return pd.DataFrame([{**blank, **row} for row in rows])
