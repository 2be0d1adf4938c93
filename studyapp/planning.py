"""Trial plans: which stimuli each trial shows, balanced across participants (pure numpy).

The algorithm, for one new participant (see README, "Trial plans"):

1. Coverage so far is summarised per trial type as a pair matrix ``C[i, j]`` (how often stimuli
   i and j appeared together in main trials that are answered or still planned for an active
   session), how often each stimulus was shown at each screen position, plus, for 2AFC, how
   often each stimulus served as the reference and each reference-candidate pair was offered.
2. Main trials are chosen greedily, one at a time, and every choice updates ``C`` at once:
   - the first item is the one this participant has seen least, then the one least used in the
     study, then random (2AFC: the first item is the reference, the one used least often as a
     reference in the study, then the participant's least seen);
   - every further item minimises the summed ``C`` with the items already chosen (2AFC: first
     its count of offered pairs with the reference, the pairs the analysis counts), then this
     participant's exposure to it, then its use in the study, then random;
   - a set of items this participant already has is skipped (no accidental repeats).
   Dense designs (few stimuli) thereby cover all pairs (2AFC: reference-candidate pairs) evenly
   across participants; sparse designs (many stimuli) get random, item-balanced coverage.
   The display order of a main trial is the one that puts its items at the screen positions
   where they were shown least so far (2AFC: reference first, the candidates balanced left/right).
3. Repeats: ``round(repeat_rate * main)`` main trials, drawn at random, are shown again later
   (at least ``MIN_REPEAT_GAP`` trials after the original where the block allows) with the items
   in a new order (2AFC keeps its reference first and swaps the candidates).
4. Catch trials (``round(catch_rate * main)``) show a stimulus twice: triplet ``A, A, B`` (odd
   one out: B), 2AFC reference ``A`` with candidates ``A, B`` (answer: A), rating ``A, A``
   (answer: the top of the scale; see ``responses``).
5. Bubbles blocks (one stimulus per trial, judged through apertures) have no repeats or catches
   (a repeat could not show the same count: the staircase decides it); each of their trials
   gets a seed for its apertures' positions, drawn after the block is built.  Match-to-reference
   Bubbles (``match_identities`` given) balance the references as above and then add two
   candidates: another image of the reference's identity (the target) and an image of another
   identity (the foil), the target left in half of the block's main trials (in random order).
   Coverage counts a Bubbles trial's reference only.
6. Arrangement blocks (multi-arrangement, Kriegeskorte & Mur 2012) have no repeats or catches:
   the first main trial shows every stimulus (or ``arrangement_first_size`` of them, chosen at
   random), the later ones are left empty here and chosen by lift-the-weakest when the one
   before is answered (``studyapp.arrangement``); their practice trials show
   ``ARRANGEMENT_PRACTICE_ITEMS`` random faces (all when there are fewer).
7. Practice trials (random items) open each block; blocks (one per trial type) follow a row of a
   balanced Latin square (``block_orders``), the row used by the fewest kept sessions so far
   (``block_order_choose``); practice, repeat and catch trials show their items in random order.

Every random choice draws from ``numpy.random.default_rng(seed)``; the seed is stored with the
participant with its Latin-square row, so a plan is reproducible from the seed, the row and the
coverage counts it started from.
"""

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

ITEMS_PER_TRIAL = {"triplet": 3, "rating": 2, "afc": 3, "bubbles": 1, "arrangement": 3}
MAX_ITEMS = max(ITEMS_PER_TRIAL.values())
ARRANGEMENT_PRACTICE_ITEMS = 5
MIN_REPEAT_GAP = 5
SEED_LIMIT = 2**32  # Bubbles seeds: unsigned 32-bit (mulberry32)


@dataclass(frozen=True)
class PlanSettings:
    """What a participant's plan must contain."""

    trial_types: Sequence[str]
    main_trials: int
    practice_trials: int = 0
    repeat_rate: float = 0.0
    catch_rate: float = 0.0
    arrangement_first_size: int | None = None  # None: the first arrangement shows every face
    # Bubbles match-to-reference: each stimulus's identity (None: Bubbles trials judge a label)
    match_identities: tuple[int, ...] | None = None

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
        if self.match_identities is not None:
            sizes = np.bincount(self.match_identities)
            sizes = sizes[sizes > 0]
            if len(sizes) < 2 or sizes.min() < 2:
                raise ValueError(
                    "The 'match_identities' parameter of PlanSettings must give at least two "
                    f"identities, each with at least two images; got sizes {sorted(sizes)}."
                )


@dataclass
class Coverage:
    """How often stimuli were used together, per screen position and as 2AFC pairs, per type.

    ``pairs[i, j]``: trials showing i and j; ``positions[i, k]``: trials showing i at screen
    position k (2AFC: 0 is the reference); ``offered[i, j]``: 2AFC trials with one of i, j as
    the reference and the other as a candidate (the pairs the analysis counts as offered).
    """

    n_items: int
    pairs: np.ndarray = field(init=False)
    references: np.ndarray = field(init=False)
    positions: np.ndarray = field(init=False)
    offered: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_items
        self.pairs = np.zeros((n, n), dtype=np.int64)
        self.references = np.zeros(n, dtype=np.int64)
        self.positions = np.zeros((n, MAX_ITEMS), dtype=np.int64)
        self.offered = np.zeros((n, n), dtype=np.int64)

    def add(self, items: Sequence[int], reference: int | None = None) -> None:
        """Count one trial showing ``items`` in display order (distinct list positions).

        ``reference``: the 2AFC reference, shown first.
        """
        idx = np.asarray(items)
        self.pairs[np.ix_(idx, idx)] += 1
        self.positions[idx, np.arange(len(idx))] += 1
        if reference is not None:
            self.references[reference] += 1
            self.offered[reference, idx[1:]] += 1
            self.offered[idx[1:], reference] += 1

    def add_many(self, trials: np.ndarray, *, references_first: bool = False) -> None:
        """Count many trials at once: ``trials`` is (n_trials, size) in display order."""
        size = trials.shape[1]
        _add_pairs(self.pairs, np.repeat(trials, size, axis=1), np.tile(trials, (1, size)))
        _add_pairs(self.positions, trials, np.broadcast_to(np.arange(size), trials.shape))
        if references_first:
            np.add.at(self.references, trials[:, 0], 1)
            reference = np.repeat(trials[:, :1], size - 1, axis=1)
            _add_pairs(self.offered, reference, trials[:, 1:])
            _add_pairs(self.offered, trials[:, 1:], reference)

    @property
    def item_uses(self) -> np.ndarray:
        return np.diagonal(self.pairs)


def _add_pairs(counts: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """``counts[r, c] += 1`` for every pair: element-wise when few (a start's new trials),
    as one bincount over the whole matrix when many (a study's coverage)."""
    if rows.size * 8 < counts.size:
        np.add.at(counts, (rows.ravel(), cols.ravel()), 1)
    else:
        flat = (rows * counts.shape[1] + cols).ravel()
        counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)


@dataclass(frozen=True)
class PlannedTrial:
    """A trial in the plan; ``items`` are positions in the stimulus list, in display order."""

    block: int
    trial_type: str
    role: str
    items: tuple[int, ...]
    repeat_of: int | None = None
    correct_item: int | None = None
    bubbles_seed: int | None = None


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


def block_orders(n_blocks: int) -> list[tuple[int, ...]]:
    """Rows of a balanced (Williams) Latin square: each block in each place equally often and
    each block directly after each other block equally often (odd sizes need 2n rows)."""
    first = [0]
    for step in range(1, n_blocks):
        first.append(first[-1] + step if step % 2 else first[-1] - step)
    rows = [tuple((b + shift) % n_blocks for b in first) for shift in range(n_blocks)]
    return rows + [row[::-1] for row in rows] if n_blocks % 2 and n_blocks > 1 else rows


def block_order_choose(uses: Sequence[int], seed: int) -> int:
    """The Latin-square row with the fewest uses (kept sessions); ties broken by ``seed``."""
    uses = np.asarray(uses)
    tied = np.flatnonzero(uses == uses.min())
    return int(np.random.default_rng([seed, 1]).choice(tied))


def build_plan(
    n_items: int,
    settings: PlanSettings,
    coverage: dict[str, Coverage],
    seed: int,
    order_row: int = 0,
) -> list[PlannedTrial]:
    """Plan one participant's trials; ``coverage`` is updated with the new main trials.

    Blocks follow row ``order_row`` of ``block_orders(len(settings.trial_types))``.
    ``repeat_of`` of a repeat trial is the position of its original in the returned list.
    """
    needed = min_items(settings.trial_types)
    if n_items < needed:
        raise ValueError(
            f"The 'n_items' parameter of build_plan must be at least {needed} for "
            f"{list(settings.trial_types)}; got {n_items}."
        )
    if settings.match_identities is not None and len(settings.match_identities) != n_items:
        raise ValueError(
            f"The 'settings' parameter of build_plan must give one identity per item ({n_items});"
            f" got {len(settings.match_identities)}."
        )
    orders = block_orders(len(settings.trial_types))
    if not 0 <= order_row < len(orders):
        raise ValueError(
            f"The 'order_row' parameter of build_plan must be in [0, {len(orders)}); "
            f"got {order_row}."
        )
    rng = np.random.default_rng(seed)
    per_type = _split_evenly(settings.main_trials, len(settings.trial_types))
    plan: list[PlannedTrial] = []
    for block, type_index in enumerate(orders[order_row]):
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
    """Practice, then main trials in random order with repeats and catches inserted
    (Bubbles: no repeats or catches, a seed per trial).

    While building, a repeat refers to its original by the original's index in ``main``;
    the links become positions in the plan (starting at ``offset``) at the end.
    """
    if trial_type == "arrangement":
        return _arrangement_block(n_items, block, n_main, settings, rng)
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
    if trial_type == "bubbles":
        trials = practice + [trial for _, trial, _ in entries]
        seeds = rng.integers(0, SEED_LIMIT, len(trials))
        trials = [replace(t, bubbles_seed=int(seed)) for t, seed in zip(trials, seeds, strict=True)]
        if settings.match_identities is None:
            return trials
        identities, n = np.asarray(settings.match_identities), len(practice)
        return [  # the targets' sides balanced among the main trials
            *_with_candidates(trials[:n], identities, rng),
            *_with_candidates(trials[n:], identities, rng),
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


def _with_candidates(
    trials: list[PlannedTrial], identities: np.ndarray, rng: np.random.Generator
) -> list[PlannedTrial]:
    """Match-to-reference trials: (reference, left, right), one candidate another image of the
    reference's identity (``correct_item``), the other an image of another identity."""
    target_left = rng.permutation(np.arange(len(trials)) % 2 == 0)
    matched = []
    for trial, left in zip(trials, target_left, strict=True):
        (reference,) = trial.items
        same = identities == identities[reference]
        same[reference] = False
        target = int(rng.choice(np.flatnonzero(same)))
        foil = int(rng.choice(np.flatnonzero(identities != identities[reference])))
        items = (reference, target, foil) if left else (reference, foil, target)
        matched.append(replace(trial, items=items, correct_item=target))
    return matched


def _arrangement_block(
    n_items: int, block: int, n_main: int, settings: PlanSettings, rng: np.random.Generator
) -> list[PlannedTrial]:
    """Practice arrangements of random faces, the first main arrangement, then empty main
    trials that are chosen as the participant answers."""
    practice_size = min(ARRANGEMENT_PRACTICE_ITEMS, n_items)
    practice = [
        PlannedTrial(
            block,
            "arrangement",
            "practice",
            tuple(int(i) for i in rng.choice(n_items, practice_size, replace=False)),
        )
        for _ in range(settings.practice_trials)
    ]
    first_size = min(settings.arrangement_first_size or n_items, n_items)
    first = tuple(int(i) for i in rng.choice(n_items, first_size, replace=False))
    later = [PlannedTrial(block, "arrangement", "main", ()) for _ in range(n_main - 1)]
    return [*practice, PlannedTrial(block, "arrangement", "main", first), *later]


def _greedy_main_trials(
    n_items: int,
    trial_type: str,
    block: int,
    n_main: int,
    coverage: Coverage,
    rng: np.random.Generator,
) -> list[PlannedTrial]:
    size = ITEMS_PER_TRIAL[trial_type]
    afc = trial_type == "afc"
    seen = np.zeros(n_items, dtype=np.int64)
    chosen_sets: set[frozenset[int]] = set()
    trials = []
    for _ in range(n_main):
        items = _pick_items(size, coverage, seen, chosen_sets, rng, afc=afc)
        chosen_sets.add(frozenset(items))
        seen[items] += 1
        shown = _balanced_order(items, coverage.positions, rng, afc=afc)
        coverage.add(shown, shown[0] if afc else None)
        trials.append(PlannedTrial(block, trial_type, "main", shown))
    return trials


def _pick_items(
    size: int,
    coverage: Coverage,
    seen: np.ndarray,
    chosen_sets: set[frozenset[int]],
    rng: np.random.Generator,
    *,
    afc: bool,
) -> list[int]:
    """Greedy choice of ``size`` items (see the module docstring); lexicographic keys.

    2AFC: the first item is the reference and each candidate minimises first its count of
    offered pairs with the reference, then its co-occurrences with the items already chosen.
    """
    first_keys = (rng.random(coverage.n_items), coverage.item_uses, seen)
    if afc:  # the least used reference, so that every item's offered pairs can even out
        first_keys = (*first_keys, coverage.references)
    first = _lexicographic_first(first_keys, np.arange(coverage.n_items))
    items = [first]
    while len(items) < size:
        free = np.ones(coverage.n_items, dtype=bool)
        free[items] = False
        candidates = np.flatnonzero(free)
        pair_cost = coverage.pairs[np.ix_(items, candidates)].sum(axis=0)
        keys = (rng.random(len(candidates)), coverage.item_uses[candidates], seen[candidates])
        primary = (pair_cost, coverage.offered[first, candidates]) if afc else (pair_cost,)
        keys = (*keys, *primary)
        rows = np.arange(len(candidates))
        best = _lexicographic_first(keys, rows)
        if len(items) == size - 1:  # the last item: skip sets this participant already has
            pick = best
            while frozenset([*items, int(candidates[pick])]) in chosen_sets:
                rows = rows[rows != pick]
                if not len(rows):  # every completion already used: accept a repeat of the set
                    pick = best
                    break
                pick = _lexicographic_first(keys, rows)
            best = pick
        items.append(int(candidates[best]))
    return items


def _lexicographic_first(keys: Sequence[np.ndarray], rows: np.ndarray) -> int:
    """``rows[np.lexsort([key[rows] for key in keys])[0]]`` (the last key is the primary one)
    in linear time: keep the rows at each key's minimum, primary key first."""
    for key in reversed(keys):
        values = key[rows]
        rows = rows[values == values.min()]
    return int(rows[0])


def _balanced_order(
    items: Sequence[int], positions: np.ndarray, rng: np.random.Generator, *, afc: bool
) -> tuple[int, ...]:
    """The display order that puts items where they were shown least (2AFC: reference first)."""
    orders = np.asarray(items)[_orders(len(items), afc)]
    cost = positions[orders, np.arange(len(items))].sum(axis=1)
    best = np.flatnonzero(cost == cost.min())
    return tuple(int(i) for i in orders[int(rng.choice(best))])


@functools.cache
def _orders(size: int, afc: bool) -> np.ndarray:
    """Every display order of ``size`` items as index rows (2AFC: the first stays first)."""
    start = 1 if afc else 0
    return np.array([(*range(start), *p) for p in itertools.permutations(range(start, size))])


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
