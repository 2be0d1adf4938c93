"""Adaptive triplet selection against random and balanced selection (issue 16).

    .venv/bin/python benchmarks/adaptive.py [--faces 200] [--per-participant 50]
        [--batch 10] [--batches 16] [--dims 6] [--noise 0.5] [--seeds 1] [--first-seed 0]
        [--candidates N] [--item-cap 2.0] [--observers softmax|raters] [--json out.json]

Generating similarity: the OMI faces' attribute profiles (z-scored mean ratings on 34
attributes, correlation distance: ``analysis.human.profiles``; ``--faces`` faces drawn at
random among those rated on every attribute).  Observers (``--observers``):
- softmax (default): on a triplet they keep pair (a, b) together with probability
  proportional to exp(-d_ab / T), T = noise * SD(d) (``analysis.simulate.odd_one_choices``);
- raters: each simulated participant sees the faces through one real rater per face and
  attribute (one individual OMI rating drawn at random, repeats left out), i.e. through a
  profile with the between-rater noise of the data, and keeps the pair closest in that profile
  (no added noise, ``--noise`` unused).
Printed per seed first: how often the observers pick the generating similarity's odd one on
random triplets (``agreement``), to compare observer noise with real people's consistency.

Selection (participants of ``--per-participant`` main triplet trials, ``--batch`` per batch):
- random: distinct random triplets per participant;
- balanced: today's planner (``studyapp.planning.build_plan``, shared coverage counts);
- adaptive: the first batch balanced (the platform's fallback before any answers), then after
  every batch a t-STE embedding (``--dims``) of all answers so far, as the platform's job fits
  it, and ``analysis.human.adaptive.select_triplets`` (highest answer entropy) for the next
  batch.
Recovery after every batch, the same for all three: one t-STE embedding (``--dims``) fitted to
all answers so far, its similarity matrix against the generating one (Spearman).
Ratio: trials adaptive needs to reach balanced selection's final Spearman, over balanced's
trials (target <= 0.6); linear interpolation between batches.  The same at eight budgets
spread over the run is printed first (the ratio falls as the budget grows).  Face draws and
answers are seeded by the seed numbers ``--first-seed`` ... ``--first-seed + --seeds - 1``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis.compare import compare
from analysis.human.adaptive import answers_table, select_triplets
from analysis.human.embedding import fit_embedding
from analysis.human.profiles import profile_dissimilarity
from analysis.matrices import SimilarityMatrix
from analysis.simulate import odd_one_choices
from benchmarks.real_faces import datasets
from studyapp.planning import Coverage, PlanSettings, build_plan

METHODS = ("random", "balanced", "adaptive")
PROBE_BATCH = 10**6  # the agreement probe's participants, apart from the benchmark's batches


def omi_truth(n_faces: int, seed: int) -> SimilarityMatrix:
    means = pd.read_csv(datasets() / "omi_faces" / "attribute_means.csv", index_col="stimulus")
    complete = means.dropna().index.to_numpy()
    chosen = np.sort(np.random.default_rng(seed).choice(complete, n_faces, replace=False))
    return profile_dissimilarity(means.loc[chosen], name="OMI attribute profiles")


class RaterObservers:
    """Simulated participants whose profiles are single OMI ratings (see ``--observers``)."""

    def __init__(self, truth: SimilarityMatrix, seed: int):
        ratings = pd.read_csv(datasets() / "omi_faces" / "attribute_ratings.csv.gz")
        faces = [int(f) for f in truth.stimuli]
        ratings = ratings[(ratings["rating_type"] != "repeat") & ratings["stimulus"].isin(faces)]
        face = pd.Index(faces).get_indexer(ratings["stimulus"])
        attribute, _ = pd.factorize(ratings["attribute"], sort=True)
        k = ratings.groupby(["stimulus", "attribute"]).cumcount().to_numpy()
        self.values = np.full((len(faces), attribute.max() + 1, k.max() + 1), np.nan)
        self.values[face, attribute, k] = ratings["rating"].to_numpy()  # NaN-padded
        self.counts = np.isfinite(self.values).sum(axis=2)
        self.stimuli = truth.stimuli
        self.seed = seed

    def answers(self, participant: tuple[int, int], triplets: np.ndarray) -> np.ndarray:
        """The odd one of each triplet for the participant (batch, index) (fixed per seed)."""
        rng = np.random.default_rng([self.seed, 3, *participant])
        pick = (rng.random(self.counts.shape) * self.counts).astype(np.int64)
        profile = np.take_along_axis(self.values, pick[..., None], axis=2)[..., 0]
        d = profile_dissimilarity(pd.DataFrame(profile, index=self.stimuli)).dissimilarity()
        d = d.values
        a, b, c = triplets.T
        closest = np.argmin(np.stack([d[b, c], d[a, c], d[a, b]], 1), axis=1)  # kept -> odd
        return triplets[np.arange(len(triplets)), closest]


def agreement(truth: SimilarityMatrix, args, seed: int, raters: RaterObservers | None) -> float:
    """How often the observers pick the generating similarity's odd one (the item outside the
    closest pair) on 20,000 random triplets: 10 participants x 2,000 for ``raters``."""
    d = truth.dissimilarity().values
    rng = np.random.default_rng([seed, 4])
    triplets = np.sort(rng.random((20_000, truth.n_stimuli)).argsort(axis=1)[:, :3], axis=1)
    a, b, c = triplets.T
    closest = np.argmin(np.stack([d[b, c], d[a, c], d[a, b]], 1), axis=1)
    expected = triplets[np.arange(len(triplets)), closest]
    if raters is None:
        temperature = args.noise * float(np.std(truth.upper()))
        odd = odd_one_choices(d, triplets, temperature, rng)
    else:
        odd = np.concatenate(
            [raters.answers((PROBE_BATCH, p), t) for p, t in enumerate(triplets.reshape(10, -1, 3))]
        )
    return float(np.mean(odd == expected))


def random_sets(n: int, per: int, rng: np.random.Generator) -> np.ndarray:
    sets: set[tuple[int, ...]] = set()
    while len(sets) < per:
        sets.add(tuple(sorted(int(i) for i in rng.choice(n, 3, replace=False))))
    return np.array(sorted(sets))


def balanced_sets(n: int, per: int, coverage: Coverage, seed: int) -> np.ndarray:
    plan = build_plan(n, PlanSettings(("triplet",), per), {"triplet": coverage}, seed=seed)
    return np.array([t.items for t in plan if t.role == "main"])


def run_method(
    method: str, truth: SimilarityMatrix, args, seed: int, raters: RaterObservers | None
) -> list[dict]:
    d = truth.dissimilarity().values
    n = truth.n_stimuli
    temperature = args.noise * float(np.std(truth.upper()))
    rng = np.random.default_rng([seed, 1])  # the observers' answers
    picks = np.random.default_rng([seed, 2])  # random selection
    coverage = Coverage(n)
    stimuli = list(truth.stimuli)
    answers = pd.DataFrame(columns=["i", "j", "odd"], dtype=np.int64)
    rows = []
    for batch in range(args.batches):
        started = time.perf_counter()
        if method == "adaptive" and batch > 0:
            state = fit_embedding(
                answers,
                stimuli,
                args.dims,
                model="tste",
                random_state=seed * 1000 + batch,
                max_iter=300,
            )
            uses = np.bincount(answers.to_numpy().ravel(), minlength=n)
            pool = select_triplets(
                state,
                n_sets=args.batch,
                set_size=args.per_participant,
                item_uses=uses,
                candidates_per_stimulus=args.candidates,
                item_cap=args.item_cap,
                random_state=seed * 1000 + batch,
            )
            sets = [np.array(s) for s in pool]
        elif method == "random":
            sets = [random_sets(n, args.per_participant, picks) for _ in range(args.batch)]
        else:  # balanced, and adaptive's first batch
            sets = [
                balanced_sets(n, args.per_participant, coverage, seed=seed * 1000 + batch * 100 + p)
                for p in range(args.batch)
            ]
        select_s = time.perf_counter() - started
        triplets = np.concatenate(sets)
        if raters is None:
            odd = odd_one_choices(d, triplets, temperature, rng)
        else:
            odd = np.concatenate([raters.answers((batch, p), s) for p, s in enumerate(sets)])
        answers = pd.concat([answers, answers_table(triplets, odd)], ignore_index=True)
        fitted = fit_embedding(
            answers, stimuli, args.dims, model="tste", random_state=seed, max_iter=300
        )
        spearman = compare(truth, fitted.similarity(), "spearman")
        rows.append(
            {
                "method": method,
                "seed": seed,
                "trials": len(answers),
                "spearman": spearman,
                "select_s": select_s,
            }
        )
        print(f"{method:9s} seed {seed} trials {len(answers):6d} spearman {spearman:.3f}")
    return rows


def trials_to_reach(curve: pd.DataFrame, target: float) -> float:
    """First trial count where the curve reaches ``target`` (linear between batches)."""
    trials, values = curve["trials"].to_numpy(), curve["spearman"].to_numpy()
    above = np.flatnonzero(values >= target)
    if not len(above):
        return float("nan")
    k = int(above[0])
    if k == 0:
        return float(trials[0])
    t0, t1, v0, v1 = trials[k - 1], trials[k], values[k - 1], values[k]
    return float(t0 + (target - v0) / (v1 - v0) * (t1 - t0))


def ratios_by_budget(mean: pd.DataFrame, points: int = 8) -> pd.DataFrame:
    """At ``points`` budgets spread over the run (the last is the final one): balanced
    selection's Spearman there, the trials adaptive needs to reach it (nan: never) and their
    ratio."""
    adaptive = mean["adaptive"].reset_index().rename(columns={"adaptive": "spearman"})
    points = min(points, len(mean))
    rows = []
    for k in range(1, points + 1):
        budget = int(mean.index[round(len(mean) * k / points) - 1])
        value = float(mean.loc[budget, "balanced"])
        needed = trials_to_reach(adaptive, value)
        rows.append(
            {
                "budget": budget,
                "balanced": value,
                "adaptive_needs": needed,
                "ratio": needed / budget,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--per-participant", type=int, default=50)
    parser.add_argument("--batch", type=int, default=10, help="participants per batch")
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--dims", type=int, default=6)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--candidates", type=int, help="per stimulus (default: the selector's)")
    parser.add_argument("--item-cap", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--observers", choices=("softmax", "raters"), default="softmax")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (datasets() / "omi_faces" / "attribute_means.csv").exists():
        sys.exit(f"OMI faces not found under {datasets()}")
    started = time.perf_counter()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        truth = omi_truth(args.faces, seed)
        raters = RaterObservers(truth, seed) if args.observers == "raters" else None
        print(
            f"seed {seed}: observers agree with the generating answer on "
            f"{agreement(truth, args, seed, raters):.1%} of random triplets"
        )
        for method in METHODS:
            rows += run_method(method, truth, args, seed, raters)
    curves = pd.DataFrame(rows)
    mean = curves.groupby(["method", "trials"])["spearman"].mean().unstack("method")[list(METHODS)]
    print("\nSpearman to the generating similarity (mean over seeds) by trials:")
    print(mean.round(3).to_string())
    budgets = ratios_by_budget(mean)
    print("\nBy budget: balanced's Spearman at that many trials, trials adaptive needs for it:")
    print(budgets.round({"balanced": 3, "adaptive_needs": 0, "ratio": 2}).to_string(index=False))
    final = budgets.iloc[-1]
    ratio = float(final["ratio"])
    print(
        f"\nbalanced final Spearman {final['balanced']:.3f} at {final['budget']:.0f} trials; "
        f"adaptive reaches it at {final['adaptive_needs']:.0f} trials: ratio {ratio:.2f} "
        "(target <= 0.60)"
    )
    wall = time.perf_counter() - started
    print(f"machine: {platform.machine()} {platform.processor()}; wall {wall:.0f} s")
    if args.json:
        summary = {"args": vars(args), "curves": rows, "ratio": ratio}
        args.json.write_text(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
