"""Trial plans: which stimuli each trial shows, balanced across participants (pure numpy).

The algorithm, for one new participant (see README, "Trial plans"):

1. Coverage so far is summarised per trial type as a pair matrix ``C[i, j]`` (how often stimuli
   i and j appeared together in main trials that are answered or still planned for an active
   session), plus, for 2AFC, how often each stimulus served as the reference.
2. Main trials are chosen greedily, one at a time, and every choice updates ``C`` at once:
   - the first item is the one this participant has seen least, then the one least used in the
     study, then random;
   - every further item minimises the summed ``C`` with the items already chosen (so
     under-sampled pairs are filled first), then this participant's exposure to it, then its
     use in the study, then random;
   - a set of items this participant already has is skipped (no accidental repeats).
   For 2AFC the reference is the chosen item used least often as a reference.
   Dense designs (few stimuli) thereby cover all pairs evenly across participants; sparse designs
   (many stimuli) get random, item-balanced coverage.
3. Repeats: ``round(repeat_rate * main)`` main trials, drawn at random, are shown again later
   (at least ``MIN_REPEAT_GAP`` trials after the original where the block allows) with the items
   in a new order (2AFC keeps its reference first and swaps the candidates).
4. Catch trials (``round(catch_rate * main)``) show a stimulus twice: triplet ``A, A, B`` (odd
   one out: B), 2AFC reference ``A`` with candidates ``A, B`` (answer: A), rating ``A, A``
   (answer: the top of the scale; see ``responses``).
5. Practice trials (random items) open each block; blocks (one per trial type) come in a random
   order; items within each trial are shown in random order.

Every random choice draws from ``numpy.random.default_rng(seed)``; the seed is stored with the
participant, so a plan is reproducible from the seed and the coverage counts it started from.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

ITEMS_PER_TRIAL = {"triplet": 3, "rating": 2, "afc": 3}
MIN_REPEAT_GAP = 5


@dataclass(frozen=True)
class PlanSettings:
    """What a participant's plan must contain."""

    trial_types: Sequence[str]
    main_trials: int
    practice_trials: int = 0
    repeat_rate: float = 0.0
    catch_rate: float = 0.0

    def __post_init__(self) -> None:
        unknown = [t for t in self.trial_types if t not in ITEMS_PER_TRIAL]
        if not self.trial_types or unknown:
            raise ValueError(
                f"The 'trial_types' parameter of PlanSettings must be a non-empty list of "
                f"{sorted(ITEMS_PER_TRIAL)}; got {list(self.trial_types)!r}."
            )
        if self.main_trials < len(self.trial_types):
            raise ValueError(
                "The 'main_trials' parameter of PlanSettings must be at least one per trial "
                f"type; got {self.main_trials}."
            )
        for name in ("repeat_rate", "catch_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.5:
                raise ValueError(
                    f"The '{name}' parameter of PlanSettings must be in [0, 0.5]; got {value}."
                )


@dataclass
class Coverage:
    """How often each pair of stimuli (and each reference) has been used, for one trial type."""

    n_items: int
    pairs: np.ndarray = field(init=False)
    references: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pairs = np.zeros((self.n_items, self.n_items), dtype=np.int64)
        self.references = np.zeros(self.n_items, dtype=np.int64)

    def add(self, items: Sequence[int], reference: int | None = None) -> None:
        """Count one trial showing ``items`` (distinct positions in the stimulus list)."""
        idx = np.asarray(items)
        self.pairs[np.ix_(idx, idx)] += 1
        if reference is not None:
            self.references[reference] += 1

    def add_many(self, trials: np.ndarray, *, references_first: bool = False) -> None:
        """Count many trials at once: ``trials`` is (n_trials, size), distinct positions per row."""
        n = self.n_items
        rows = np.repeat(trials, trials.shape[1], axis=1).ravel()
        cols = np.tile(trials, (1, trials.shape[1])).ravel()
        self.pairs += np.bincount(rows * n + cols, minlength=n * n).reshape(n, n)
        if references_first:
            self.references += np.bincount(trials[:, 0], minlength=n)

    @property
    def item_uses(self) -> np.ndarray:
        return np.diagonal(self.pairs)


@dataclass(frozen=True)
class PlannedTrial:
    """A trial in the plan; ``items`` are positions in the stimulus list, in display order."""

    block: int
    trial_type: str
    role: str
    items: tuple[int, ...]
    repeat_of: int | None = None
    correct_item: int | None = None


def min_items(trial_types: Sequence[str]) -> int:
    """Fewest stimuli a design can be planned from: its largest trial (catches need two)."""
    return max(ITEMS_PER_TRIAL[t] for t in trial_types)


def design_problems(
    *,
    trial_types: Sequence[str],
    main_trials: int,
    practice_trials: int,
    repeat_rate: float,
    catch_rate: float,
    n_items: int,
) -> list[str]:
    """Why ``build_plan`` could not plan this design from ``n_items`` stimuli (empty: it can)."""
    try:
        settings = PlanSettings(trial_types, main_trials, practice_trials, repeat_rate, catch_rate)
    except ValueError as error:
        return [str(error)]
    needed = min_items(settings.trial_types)
    if n_items < needed:
        return [
            f"{', '.join(settings.trial_types)} trials need a stimulus set of at least "
            f"{needed} images; this one has {n_items}."
        ]
    return []


def build_plan(
    n_items: int,
    settings: PlanSettings,
    coverage: dict[str, Coverage],
    seed: int,
) -> list[PlannedTrial]:
    """Plan one participant's trials; ``coverage`` is updated with the new main trials.

    ``repeat_of`` of a repeat trial is the position of its original in the returned list.
    """
    needed = min_items(settings.trial_types)
    if n_items < needed:
        raise ValueError(
            f"The 'n_items' parameter of build_plan must be at least {needed} for "
            f"{list(settings.trial_types)}; got {n_items}."
        )
    rng = np.random.default_rng(seed)
    per_type = _split_evenly(settings.main_trials, len(settings.trial_types))
    plan: list[PlannedTrial] = []
    for block, type_index in enumerate(rng.permutation(len(settings.trial_types))):
        trial_type = settings.trial_types[type_index]
        type_coverage = coverage.setdefault(trial_type, Coverage(n_items))
        plan += _plan_block(
            n_items,
            trial_type,
            block,
            per_type[type_index],
            settings,
            type_coverage,
            rng,
            len(plan),
        )
    return plan


def _split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _plan_block(
    n_items: int,
    trial_type: str,
    block: int,
    n_main: int,
    settings: PlanSettings,
    coverage: Coverage,
    rng: np.random.Generator,
    offset: int,
) -> list[PlannedTrial]:
    """Practice, then main trials in random order with repeats and catches inserted.

    While building, a repeat refers to its original by the original's index in ``main``;
    the links become positions in the plan (starting at ``offset``) at the end.
    """
    size = ITEMS_PER_TRIAL[trial_type]
    practice = [
        _make_trial(block, trial_type, "practice", rng.choice(n_items, size, replace=False), rng)
        for _ in range(settings.practice_trials)
    ]
    main = _greedy_main_trials(n_items, trial_type, block, n_main, coverage, rng)
    # (key of a main trial or None, trial, key of the original for a repeat)
    entries: list[tuple[int | None, PlannedTrial, int | None]] = [
        (key, main[i], None) for key, i in enumerate(rng.permutation(len(main)))
    ]
    for key in rng.choice(len(main), min(round(settings.repeat_rate * n_main), len(main)), False):
        position = next(p for p, entry in enumerate(entries) if entry[0] == key)
        earliest = min(position + 1 + MIN_REPEAT_GAP, len(entries))
        original = entries[position][1]
        reference = original.items[0] if trial_type == "afc" else None
        repeat = PlannedTrial(block, trial_type, "repeat", _reorder(original.items, reference, rng))
        entries.insert(int(rng.integers(earliest, len(entries) + 1)), (None, repeat, int(key)))
    for _ in range(round(settings.catch_rate * n_main)):
        catch = _catch_trial(block, trial_type, n_items, rng)
        entries.insert(int(rng.integers(1, len(entries) + 1)), (None, catch, None))

    start = offset + len(practice)
    position_of = {key: start + p for p, (key, _, _) in enumerate(entries) if key is not None}
    return practice + [
        trial if original is None else replace(trial, repeat_of=position_of[original])
        for _, trial, original in entries
    ]


def _greedy_main_trials(
    n_items: int,
    trial_type: str,
    block: int,
    n_main: int,
    coverage: Coverage,
    rng: np.random.Generator,
) -> list[PlannedTrial]:
    size = ITEMS_PER_TRIAL[trial_type]
    seen = np.zeros(n_items, dtype=np.int64)
    chosen_sets: set[frozenset[int]] = set()
    trials = []
    for _ in range(n_main):
        items = _pick_items(size, coverage, seen, chosen_sets, rng)
        chosen_sets.add(frozenset(items))
        seen[items] += 1
        reference = _least_used_reference(items, coverage, rng) if trial_type == "afc" else None
        coverage.add(items, reference)
        trials.append(
            PlannedTrial(block, trial_type, "main", _display_order(items, reference, rng))
        )
    return trials


def _pick_items(
    size: int,
    coverage: Coverage,
    seen: np.ndarray,
    chosen_sets: set[frozenset[int]],
    rng: np.random.Generator,
) -> list[int]:
    """Greedy choice of ``size`` items (see the module docstring); lexicographic keys."""
    first = int(np.lexsort((rng.random(coverage.n_items), coverage.item_uses, seen))[0])
    items = [first]
    while len(items) < size:
        candidates = np.setdiff1d(np.arange(coverage.n_items), items)
        pair_cost = coverage.pairs[np.ix_(items, candidates)].sum(axis=0)
        keys = (rng.random(len(candidates)), coverage.item_uses[candidates], seen[candidates])
        ranked = candidates[np.lexsort((*keys, pair_cost))]
        is_last = len(items) == size - 1
        pick = next(
            (
                int(c)
                for c in ranked
                if not is_last or frozenset([*items, int(c)]) not in chosen_sets
            ),
            int(ranked[0]),  # every completion already used: accept a repeat of the set
        )
        items.append(pick)
    return items


def _least_used_reference(items: list[int], coverage: Coverage, rng: np.random.Generator) -> int:
    uses = coverage.references[items]
    tied = [item for item, used in zip(items, uses, strict=True) if used == uses.min()]
    return int(rng.choice(tied))


def _display_order(
    items: Sequence[int], reference: int | None, rng: np.random.Generator
) -> tuple[int, ...]:
    if reference is None:
        return tuple(int(i) for i in rng.permutation(items))
    candidates = [i for i in items if i != reference]
    return (int(reference), *(int(i) for i in rng.permutation(candidates)))


def _make_trial(
    block: int, trial_type: str, role: str, items: Sequence[int], rng: np.random.Generator
) -> PlannedTrial:
    reference = int(items[0]) if trial_type == "afc" else None
    return PlannedTrial(block, trial_type, role, _display_order(items, reference, rng))


def _reorder(
    items: tuple[int, ...], reference: int | None, rng: np.random.Generator
) -> tuple[int, ...]:
    """A different display order of the same items (when one exists)."""
    for _ in range(10):
        order = _display_order(items, reference, rng)
        if order != items:
            return order
    return items


def _catch_trial(
    block: int, trial_type: str, n_items: int, rng: np.random.Generator
) -> PlannedTrial:
    """A trial with one stimulus shown twice, so the right answer is known."""
    same, other = (int(i) for i in rng.choice(n_items, 2, replace=False))
    if trial_type == "triplet":
        items, correct = tuple(int(i) for i in rng.permutation([same, same, other])), other
    elif trial_type == "afc":
        items, correct = (same, *(int(i) for i in rng.permutation([same, other]))), same
    else:
        items, correct = (same, same), same
    return PlannedTrial(block, trial_type, "catch", items, correct_item=correct)
