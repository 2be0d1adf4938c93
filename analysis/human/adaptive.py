"""Adaptive triplet selection: choose the next triplets whose answers the model is least sure of.

After each batch of answers:

1. **Model state.** One embedding (``analysis.human.embedding.fit_embedding``, t-STE) of every
   answered triplet so far.
2. **Criterion** (``answer_entropy``).  The entropy of a candidate triplet's answer under the
   state, ``H(p) = -sum_k p_k log p_k`` (p: the state's odd-one probabilities; nats, at most
   log 3): uncertainty sampling (Lewis & Gale 1994).  Triplets whose three pairs the state finds
   about equally similar come first, those with a clear odd one last.  In
   ``benchmarks/adaptive.py`` this needs about 0.83 of balanced selection's trials for its final
   accuracy; the expected information gain about the embedding (mutual information between
   the answer and a bootstrap ensemble of embeddings, "BALD"), the criterion before, needed
   0.98, and V-optimal design (the expected drop of all pair distances' variance under the
   fit's full Laplace covariance) 0.83 at about 160 times the cost (``benchmarks/RESULTS.md``,
   2026-12-05 to 2026-12-08).
3. **Selection** (``select_triplets``) from a candidate set (every stimulus anchors the same
   number of random candidates, so every stimulus can be chosen):
   - coverage first: every stimulus not shown yet (``item_uses`` 0), in random order, gets
     the best-scoring candidate containing it (while the pool has room), so that no stimulus
     is left out of the study (the platform's first batch is balanced, which shows them all
     when the trials allow);
   - then candidates by decreasing entropy, skipping a candidate whose stimuli reached
     ``item_cap`` uses in this pool or (first pass) whose pairs are already in it, so that one
     uncertain region does not take the whole batch;
   - the pool is shuffled and dealt into ``n_sets`` lists (one per upcoming participant);
     every set of three appears at most once in the pool, so never twice for a participant.

Every random choice is drawn from ``random_state``; the same state and seed give the same
triplets.  Hand-written because the pieces (entropy, constrained greedy pick) are a few array
operations on top of ``analysis.human.embedding``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state, check_real, fail
from analysis.human.embedding import TripletEmbedding, odd_one_probabilities


def answers_table(triplets: np.ndarray, odd: np.ndarray) -> pd.DataFrame:
    """A ``choice_table`` (i, j kept together; odd) from triplet rows and the odd ones."""
    triplets, odd = np.asarray(triplets, dtype=np.int64), np.asarray(odd, dtype=np.int64)
    if len(triplets) and not (triplets == odd[:, None]).any(1).all():
        raise fail("answers_table", "odd", "one item of each triplet", odd)
    kept = np.sort(np.where(triplets == odd[:, None], -1, triplets), axis=1)[:, 1:]
    return pd.DataFrame({"i": kept[:, 0], "j": kept[:, 1], "odd": odd})


def answer_entropy(state: TripletEmbedding, triplets: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each triplet's answer under the model state."""
    p = odd_one_probabilities(state.model, state.embedding, np.asarray(triplets))
    return -np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1)


def candidate_triplets(n_stimuli: int, per_stimulus: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct sorted triplets; each stimulus anchors ``per_stimulus`` random draws."""
    anchor = np.repeat(np.arange(n_stimuli), per_stimulus)
    second = rng.integers(0, n_stimuli - 1, len(anchor))
    second += second >= anchor  # skip the anchor
    third = rng.integers(0, n_stimuli - 2, len(anchor))
    low, high = np.minimum(anchor, second), np.maximum(anchor, second)
    third += third >= low  # skip both, in increasing order
    third += third >= high
    triplets = np.sort(np.column_stack([anchor, second, third]), axis=1)
    return np.unique(triplets, axis=0)


def select_triplets(
    state: TripletEmbedding,
    *,
    n_sets: int,
    set_size: int,
    item_uses: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    candidates_per_stimulus: int | None = None,
    item_cap: float = 2.0,
    random_state: int | None = None,
) -> list[list[tuple[int, int, int]]]:
    """``n_sets`` lists of ``set_size`` distinct triplets (stimulus indices, sorted).

    ``item_uses``: how often each stimulus was shown so far (default: never, so the
    coverage step puts every stimulus in the pool); ``candidates``: the triplets to choose
    from (default: drawn, see ``candidate_triplets``);
    ``candidates_per_stimulus``: candidates anchored on each stimulus (default: enough for
    four candidates per chosen triplet, at least 20); ``item_cap``: a stimulus appears at
    most ``ceil(item_cap * 3 * pool / n_stimuli)`` times in the pool.
    """
    func = "select_triplets"
    n_sets = check_int(func, "n_sets", n_sets, minimum=1)
    set_size = check_int(func, "set_size", set_size, minimum=1)
    item_cap = check_real(func, "item_cap", item_cap, low=1.0)
    n = len(state.embedding)
    uses = np.zeros(n) if item_uses is None else np.asarray(item_uses, dtype=float)
    if uses.shape != (n,):
        raise fail(func, "item_uses", f"one count per stimulus ({n})", uses.shape)
    pool_size = n_sets * set_size
    if candidates_per_stimulus is None:
        candidates_per_stimulus = max(20, -(-4 * pool_size // n))
    per_stimulus = check_int(func, "candidates_per_stimulus", candidates_per_stimulus, minimum=1)
    rng = check_random_state(func, random_state)
    if candidates is None:
        candidates = candidate_triplets(n, per_stimulus, rng)
    else:
        candidates = np.unique(np.sort(np.asarray(candidates, dtype=np.int64), axis=1), axis=0)
        if candidates.ndim != 2 or candidates.shape[1] != 3 or (candidates < 0).any():
            raise fail(func, "candidates", "rows of three stimulus indices", candidates.shape)
        if candidates.max() >= n or (np.diff(candidates, axis=1) == 0).any():
            raise fail(func, "candidates", f"three distinct indices below {n} per row", "other")
    entropy = answer_entropy(state, candidates)
    # most uncertain first; ties broken at random (lexsort: last key is the primary one)
    ranked = np.lexsort((rng.random(len(candidates)), -entropy))
    chosen = _greedy_pool(
        candidates[ranked],
        n_stimuli=n,
        pool_size=pool_size,
        cap=int(np.ceil(item_cap * 3 * pool_size / n)),
        uncovered=rng.permutation(np.flatnonzero(uses == 0)),
    )
    if len(chosen) < pool_size:
        raise fail(
            func,
            "n_sets",
            f"a pool the candidates can fill ({len(chosen)} distinct triplets within the "
            "item cap); raise candidates_per_stimulus or item_cap",
            n_sets,
        )
    order = rng.permutation(pool_size)
    return [
        [tuple(int(i) for i in chosen[k]) for k in order[s * set_size : (s + 1) * set_size]]
        for s in range(n_sets)
    ]


def _greedy_pool(
    ranked: np.ndarray, *, n_stimuli: int, pool_size: int, cap: int, uncovered: np.ndarray
) -> list[np.ndarray]:
    """Coverage step, then two passes by rank (fresh pairs only, then any); see the module."""
    taken = np.zeros(len(ranked), bool)
    uses = np.zeros(n_stimuli, dtype=np.int64)
    pairs: set[tuple[int, int]] = set()
    chosen: list[np.ndarray] = []

    def take(row: int) -> None:
        taken[row] = True
        triplet = ranked[row]
        uses[triplet] += 1
        a, b, c = (int(i) for i in triplet)
        pairs.update({(a, b), (a, c), (b, c)})
        chosen.append(triplet)

    for item in uncovered:
        if len(chosen) >= pool_size:
            return chosen
        if uses[item]:
            continue
        fits = (ranked == item).any(1) & ~taken & (uses[ranked] < cap).all(1)
        if fits.any():
            take(int(np.argmax(fits)))  # the best-ranked candidate containing ``item``
    for fresh_pairs_only in (True, False):
        for row in range(len(ranked)):
            if len(chosen) >= pool_size:
                return chosen
            triplet = ranked[row]
            if taken[row] or (uses[triplet] >= cap).any():
                continue
            a, b, c = (int(i) for i in triplet)
            if fresh_pairs_only and {(a, b), (a, c), (b, c)} & pairs:
                continue
            take(row)
    return chosen
