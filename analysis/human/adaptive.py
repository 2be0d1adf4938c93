"""Adaptive triplet selection: choose the next triplets by expected information gain.

After each batch of answers (PsiZ; Roads & Mozer 2019):

1. **Model state.** An ensemble of embeddings (``fit_ensemble``): member k is
   ``fit_embedding`` on a bootstrap resample of the answered triplets, with its own seed.  The
   members' spread stands in for the posterior over embeddings (a bootstrap approximation).
2. **Criterion.** For a candidate triplet with outcome Y (which item is the odd one) and model
   state M, the expected information gain is the mutual information
   ``I(Y; M) = H(mean_k p_k) - mean_k H(p_k)`` (p_k: member k's outcome probabilities;
   "BALD", Houlsby et al. 2011).  It is high where members are confident but disagree and
   near zero for a triplet every member already answers the same way.
3. **Selection** (``select_triplets``) from a candidate set (every stimulus anchors the same
   number of random candidates, so every stimulus can be chosen):
   - coverage first: every stimulus not shown yet (``item_uses`` 0), in random order, gets
     the best-scoring candidate containing it (while the pool has room), so that no stimulus
     is left out of the study (the platform's first batch is balanced, which shows them all
     when the trials allow);
   - then candidates by decreasing information gain, skipping a candidate whose stimuli
     reached ``item_cap`` uses in this pool or (first pass) whose pairs are already in it,
     so that one uncertain region does not take the whole batch;
   - the pool is shuffled and dealt into ``n_sets`` lists (one per upcoming participant);
     every set of three appears at most once in the pool, so never twice for a participant.

Every random choice is drawn from ``random_state``; the same state and seed give the same
triplets.  Hand-written because the pieces (bootstrap ensemble, BALD, constrained greedy
pick) are a few array operations on top of ``analysis.human.embedding``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_int, check_random_state, check_real, fail
from analysis.human.embedding import fit_embedding, odd_one_probabilities

SEED_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class EmbeddingEnsemble:
    """Bootstrap ensemble of embeddings: ``embeddings`` has shape (members, stimuli, dims)."""

    model: str
    embeddings: np.ndarray
    stimuli: tuple[str, ...]
    seeds: tuple[int, ...]
    n_trials: int

    @property
    def n_stimuli(self) -> int:
        return self.embeddings.shape[1]

    def outcome_probabilities(self, triplets: np.ndarray) -> np.ndarray:
        """Shape (members, n_triplets, 3): each member's P(item k is the odd one)."""
        return np.stack([odd_one_probabilities(self.model, x, triplets) for x in self.embeddings])


def fit_ensemble(
    table: pd.DataFrame,
    stimuli: Sequence[str],
    n_dims: int,
    *,
    n_members: int = 4,
    model: str = "tste",
    penalty: float = 0.01,
    random_state: int | None = None,
    max_iter: int = 300,
) -> EmbeddingEnsemble:
    """Fit ``n_members`` embeddings to bootstrap resamples of a ``choice_table``."""
    func = "fit_ensemble"
    n_members = check_int(func, "n_members", n_members, minimum=2)
    if len(table) == 0:
        raise fail(func, "table", "at least one answered triplet", 0)
    rng = check_random_state(func, random_state)
    seeds = tuple(int(s) for s in rng.integers(0, SEED_LIMIT, n_members))
    members = []
    for seed in seeds:
        rows = np.random.default_rng(seed).integers(0, len(table), len(table))
        fitted = fit_embedding(
            table.iloc[rows],
            stimuli,
            n_dims,
            model=model,
            penalty=penalty,
            random_state=seed,
            max_iter=max_iter,
        )
        members.append(fitted.embedding)
    return EmbeddingEnsemble(
        model, np.stack(members), tuple(str(s) for s in stimuli), seeds, len(table)
    )


def answers_table(triplets: np.ndarray, odd: np.ndarray) -> pd.DataFrame:
    """A ``choice_table`` (i, j kept together; odd) from triplet rows and the odd ones."""
    triplets, odd = np.asarray(triplets, dtype=np.int64), np.asarray(odd, dtype=np.int64)
    if len(triplets) and not (triplets == odd[:, None]).any(1).all():
        raise fail("answers_table", "odd", "one item of each triplet", odd)
    kept = np.sort(np.where(triplets == odd[:, None], -1, triplets), axis=1)[:, 1:]
    return pd.DataFrame({"i": kept[:, 0], "j": kept[:, 1], "odd": odd})


def _entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=-1)


def expected_information_gain(ensemble: EmbeddingEnsemble, triplets: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between each triplet's answer and the model state."""
    p = ensemble.outcome_probabilities(np.asarray(triplets, dtype=np.int64))
    return _entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0)


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
    ensemble: EmbeddingEnsemble,
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
    n = ensemble.n_stimuli
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
    gain = expected_information_gain(ensemble, candidates)
    # best first; ties broken at random (lexsort: last key is the primary one)
    ranked = np.lexsort((rng.random(len(candidates)), -gain))
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
