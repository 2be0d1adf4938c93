"""Simulated participants answering from a known dissimilarity matrix (recovery tests, power).

Choice model: on a triplet, pair (a, b) is kept together with probability proportional to
exp(-d_ab / T); on a 2AFC trial the candidate c is chosen with probability proportional to
exp(-d_rc / T), T = noise * SD(d).  Ratings: r = round(mid + spread * (gain_p * z_ab + offset_p
+ noise * e)) clipped to the scale, z_ab the standardised similarity -d, gain and offset varying
per participant (so per-participant z-scoring matters).  Catch trials have an objectively
correct answer (a repeated image); repeats re-ask an earlier main trial; "random responders"
answer uniformly and fast.  The output has the platform's export columns
(`analysis.io.RESPONSE_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_choice, check_int, check_random_state, check_real, fail
from analysis.matrices import SimilarityMatrix

TRIAL_TYPES = ("triplet", "rating", "afc")


def stimulus_ids(n: int) -> list[str]:
    return [f"face_{k:03d}" for k in range(n)]


def random_dissimilarity(n_stimuli: int, n_dims: int = 4, random_state=None) -> SimilarityMatrix:
    """Euclidean distances between stimuli placed at random in n_dims dimensions."""
    rng = check_random_state("random_dissimilarity", random_state)
    x = rng.normal(size=(n_stimuli, n_dims))
    d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0))
    return SimilarityMatrix(d, stimulus_ids(n_stimuli), measure="euclidean", name="truth")


@dataclass(frozen=True)
class Design:
    """What each simulated participant does.

    n_trials: main trials per participant; catch_fraction / repeat_fraction: extra catch and
    repeat trials as a share of main trials; n_practice: practice trials; noise: choice/rating
    noise (see module docstring); lapse: share of catch trials a good participant gets wrong;
    n_random: participants who answer at random with fast responses; rating_scale: (min, max).
    """

    trial_type: str = "triplet"
    n_participants: int = 20
    n_trials: int = 200
    noise: float = 0.5
    catch_fraction: float = 0.05
    repeat_fraction: float = 0.05
    n_practice: int = 0
    lapse: float = 0.02
    n_random: int = 0
    rating_scale: tuple[float, float] = (1.0, 7.0)
    study: str = "simulated"

    def __post_init__(self) -> None:
        func = "Design"
        check_choice(func, "trial_type", self.trial_type, TRIAL_TYPES)
        check_int(func, "n_participants", self.n_participants, minimum=1)
        check_int(func, "n_trials", self.n_trials, minimum=1)
        check_real(func, "noise", self.noise, low=0, low_open=True)
        check_real(func, "catch_fraction", self.catch_fraction, low=0, high=1)
        check_real(func, "repeat_fraction", self.repeat_fraction, low=0, high=1)
        check_int(func, "n_practice", self.n_practice, minimum=0)
        check_real(func, "lapse", self.lapse, low=0, high=1)
        check_int(func, "n_random", self.n_random, minimum=0)


def simulate_responses(truth: SimilarityMatrix, design: Design, random_state=None) -> pd.DataFrame:
    """Responses of `design.n_participants` simulated participants, in the export format."""
    rng = check_random_state("simulate_responses", random_state)
    d = truth.dissimilarity().values
    n = truth.n_stimuli
    scale = float(np.nanstd(truth.upper()))
    temperature = design.noise * scale
    frames = []
    for p in range(design.n_participants):
        careless = p >= design.n_participants - design.n_random
        frames.append(_participant(rng, p, d, n, design, temperature, careless))
    frame = pd.concat(frames, ignore_index=True)
    ids = np.asarray(truth.stimuli, dtype=object)
    for col in ("item_1", "item_2", "item_3", "choice"):
        codes = frame[col].to_numpy()
        frame[col] = np.where(codes >= 0, ids[np.maximum(codes, 0)], "")
    return frame


def simulate_groups(
    truths: Mapping[str, SimilarityMatrix], design: Design, random_state=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participant groups answering from their own matrix (a planted group difference; one
    matrix for all: no difference).  Each group has `design.n_participants` participants.

    Returns the responses of all groups as one export, participant ids prefixed with their
    group ("A-P000"), and the attribute table (participant, group)."""
    func = "simulate_groups"
    if not isinstance(truths, Mapping) or len(truths) < 1:
        raise fail(func, "truths", "a non-empty mapping group -> SimilarityMatrix", truths)
    rng = check_random_state(func, random_state)
    frames, groups = [], []
    for group, truth in truths.items():
        frame = simulate_responses(truth, design, random_state=rng)
        frame["participant"] = f"{group}-" + frame["participant"]
        frames.append(frame)
        people = frame["participant"].drop_duplicates()
        groups.append(pd.DataFrame({"participant": people.to_numpy(), "group": group}))
    responses = pd.concat(frames, ignore_index=True)
    return responses, pd.concat(groups, ignore_index=True)


def _distinct_triples(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    a = rng.integers(0, n, m)
    b = rng.integers(0, n - 1, m)
    b += b >= a
    c = rng.integers(0, n - 2, m)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    c += c >= lo
    c += c >= hi
    return np.stack([a, b, c], axis=1)


def _softmax_pick(rng, scores: np.ndarray) -> np.ndarray:
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (rng.random((len(p), 1)) > np.cumsum(p, 1)).sum(1)


def odd_one_choices(
    dissimilarity: np.ndarray, triplets: np.ndarray, temperature: float, rng: np.random.Generator
) -> np.ndarray:
    """The odd one (a stimulus index) a simulated observer picks on each triplet row: pair
    (a, b) is kept together with probability proportional to exp(-d_ab / temperature)."""
    a, b, c = np.asarray(triplets).T
    d = dissimilarity
    scores = -np.stack([d[b, c], d[a, c], d[a, b]], 1) / temperature  # keep pair -> odd
    return triplets[np.arange(len(triplets)), _softmax_pick(rng, scores)]


def _answer(rng, kind, items, d, temperature, careless, design):
    """Choice codes (or ratings) for main/repeat trials."""
    m = len(items)
    if kind == "rating":
        return None
    if kind == "triplet":
        if careless:
            return items[np.arange(m), rng.integers(0, 3, m)]
        return odd_one_choices(d, items, temperature, rng)
    r, a, b = items.T
    scores = -np.stack([d[r, a], d[r, b]], 1) / temperature
    pick = rng.integers(0, 2, m) if careless else _softmax_pick(rng, scores)
    return np.where(pick == 0, a, b)


def _participant(rng, p, d, n, design: Design, temperature, careless) -> pd.DataFrame:
    kind = design.trial_type
    n_main = design.n_trials
    n_catch = round(design.catch_fraction * n_main)
    n_repeat = min(round(design.repeat_fraction * n_main), n_main)
    n_practice = design.n_practice
    total = n_practice + n_main + n_catch + n_repeat
    role = np.array(
        ["practice"] * n_practice + ["main"] * n_main + ["catch"] * n_catch + ["repeat"] * n_repeat
    )
    # practice first, then main/catch/repeat in random order with repeats after their original
    rest = rng.permutation(np.arange(n_practice, total))
    order = np.concatenate([np.arange(n_practice), rest])
    if kind == "rating":
        items = np.full((total, 3), -1)
        pairs = _distinct_triples(rng, total, n)[:, :2]
        items[:, :2] = pairs
    else:
        items = _distinct_triples(rng, total, n)
    catch = role == "catch"
    # the first image twice -- triplet (A, A, B): the odd one is B; 2AFC reference A with
    # candidates A and B: choose A; rating (A, A): rate as very similar
    items[catch, 1] = items[catch, 0]
    main_idx = np.flatnonzero(role == "main")
    repeat_idx = np.flatnonzero(role == "repeat")
    originals = rng.choice(main_idx, size=n_repeat, replace=False) if n_repeat else main_idx[:0]
    items[repeat_idx] = items[originals]
    trial_index = np.empty(total, dtype=np.int64)
    trial_index[order] = np.arange(total)
    # a repeat must come after its original: swap positions where needed
    for r_i, o_i in zip(repeat_idx, originals, strict=True):
        if trial_index[r_i] < trial_index[o_i]:
            trial_index[r_i], trial_index[o_i] = trial_index[o_i], trial_index[r_i]
    choice = np.full(total, -1)
    rating = np.full(total, np.nan)
    correct = np.array([""] * total, dtype=object)
    judged = ~catch
    if kind == "rating":
        rating[judged] = _ratings(rng, items[judged], d, design, careless)
        lo, hi = design.rating_scale
        good = rng.random(int(catch.sum())) >= design.lapse
        top = np.where(good & ~careless, hi, rng.uniform(lo, hi, int(catch.sum())).round())
        rating[catch] = top
        correct[catch] = np.where(rating[catch] >= hi - (hi - lo) / 6, "true", "false")
    else:
        choice[judged] = _answer(rng, kind, items[judged], d, temperature, careless, design)
        right = items[catch, 2] if kind == "triplet" else items[catch, 0]
        wrong = items[catch, 0] if kind == "triplet" else items[catch, 2]
        ok = rng.random(int(catch.sum())) >= (0.5 if careless else design.lapse)
        choice[catch] = np.where(ok, right, wrong)
        correct[catch] = np.where(ok, "true", "false")
    rt = np.exp(rng.normal(np.log(250 if careless else 1500), 0.3, total)).round()
    start = pd.Timestamp("2026-11-01T09:00:00Z") + pd.Timedelta(hours=p)
    elapsed = np.cumsum(rt[np.argsort(trial_index)])[np.argsort(np.argsort(trial_index))]
    responded = start + pd.to_timedelta(elapsed, unit="ms")
    repeat_of = np.full(total, "", dtype=object)
    repeat_of[repeat_idx] = trial_index[originals].astype(str)
    lo, hi = design.rating_scale
    is_rating = kind == "rating"
    frame = pd.DataFrame(
        {
            "study": design.study,
            "participant": f"P{p:03d}",
            "participant_status": "completed",
            "trial_index": trial_index,
            "block": np.where(role == "practice", "practice", "1"),
            "trial_type": kind,
            "role": role,
            "repeat_of": repeat_of,
            "item_1": items[:, 0],
            "item_2": items[:, 1],
            "item_3": items[:, 2],
            "choice": choice,
            "rating": rating,
            "rating_min": lo if is_rating else np.nan,
            "rating_max": hi if is_rating else np.nan,
            "correct": correct,
            "rt_ms": rt,
            "responded_at": responded.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "received_at": (responded + pd.Timedelta(milliseconds=80)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        }
    )
    return frame.sort_values("trial_index", ignore_index=True)


def _ratings(rng, items, d, design: Design, careless: bool) -> np.ndarray:
    lo, hi = design.rating_scale
    a, b = items[:, 0], items[:, 1]
    off = ~np.eye(len(d), dtype=bool)
    z = -(d[a, b] - d[off].mean()) / d[off].std()
    if careless:
        return rng.integers(int(lo), int(hi) + 1, len(a)).astype(float)
    gain = rng.uniform(0.6, 1.4)
    offset = rng.normal(0, 0.4)
    latent = gain * z + offset + design.noise * rng.normal(size=len(a))
    mid, spread = (lo + hi) / 2, (hi - lo) / 4
    return np.clip(np.round(mid + spread * latent), lo, hi)


def simulate_triplet_codes(
    truth: SimilarityMatrix,
    n_responses: int,
    n_participants: int,
    noise: float = 0.5,
    random_state=None,
) -> pd.DataFrame:
    """Fast path for large benchmarks: main triplet responses only, as a `choice_table`-like
    frame of stimulus *names* in the export columns needed to build matrices."""
    rng = check_random_state("simulate_triplet_codes", random_state)
    d = truth.dissimilarity().values
    items = _distinct_triples(rng, n_responses, truth.n_stimuli)
    temperature = noise * float(np.nanstd(truth.upper()))
    odd = _answer(rng, "triplet", items, d, temperature, False, None)
    ids = np.asarray(truth.stimuli, dtype=object)
    return pd.DataFrame(
        {
            "participant": np.char.add(
                "P", rng.integers(0, n_participants, n_responses).astype(str)
            ),
            "trial_type": "triplet",
            "role": "main",
            "trial_index": np.arange(n_responses),
            "item_1": ids[items[:, 0]],
            "item_2": ids[items[:, 1]],
            "item_3": ids[items[:, 2]],
            "choice": ids[odd],
        }
    )
