"""Multi-arrangement (issue 16): recovery of inverse MDS against mean raw distances, and the
cost of choosing a participant's next subset (done inside the POST that stores an arrangement).

    .venv/bin/python benchmarks/arrangement.py [--faces 20] [--trials 16] [--subset 6]
                                               [--seeds 20] [--noise 0.05] [--large 200]

Recovery: per seed, a truth of `--faces` points in 4 dimensions; a simulated participant
arranges all faces, then `--trials - 1` subsets of `--subset` by lift-the-weakest, each laid out
by classical MDS scaled to fill the arena plus placement noise `--noise` (arena radii).  Pearson
r with the truth of inverse MDS and of the mean raw distances, and their ratio of unexplained
variance (1 - r^2).  Cost: the platform's next-subset step (evidence of the stored arrangements +
lift-the-weakest) and a full inverse MDS, for `--large` faces with one arrangement of all faces
and 29 of `--subset`.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis.human.arrangement import (
    arrangement_evidence,
    inverse_mds,
    lift_the_weakest,
    mean_distances,
    simulate_arrangement,
)
from analysis.matrices import upper_indices
from analysis.simulate import random_dissimilarity


def session(truth: np.ndarray, *, trials: int, subset: int, noise: float, rng) -> list:
    n = len(truth)
    arrangements = [simulate_arrangement(truth, range(n), noise=noise, random_state=rng)]
    while len(arrangements) < trials:
        evidence = arrangement_evidence(arrangements, n_items=n)
        items = lift_the_weakest(evidence, n_items=n, size=subset, random_state=rng)
        arrangements.append(simulate_arrangement(truth, items, noise=noise, random_state=rng))
    return arrangements


def recovery(args) -> None:
    rows, cols = upper_indices(args.faces)
    inverse, raw = [], []
    for seed in range(args.seeds):
        truth = random_dissimilarity(args.faces, n_dims=4, random_state=seed).values
        rng = np.random.default_rng(seed)
        arrangements = session(
            truth, trials=args.trials, subset=args.subset, noise=args.noise, rng=rng
        )
        target = truth[rows, cols]
        estimate = inverse_mds(arrangements, n_items=args.faces).dissimilarity
        inverse.append(np.corrcoef(estimate, target)[0, 1])
        raw.append(np.corrcoef(mean_distances(arrangements, n_items=args.faces), target)[0, 1])
    inverse, raw = np.array(inverse), np.array(raw)
    print(
        f"recovery ({args.seeds} seeds, {args.faces} faces, 1 x all + {args.trials - 1} x "
        f"{args.subset}, noise {args.noise}):"
    )
    print(f"  inverse MDS r  mean {inverse.mean():.3f}  min {inverse.min():.3f}")
    print(f"  mean raw    r  mean {raw.mean():.3f}  min {raw.min():.3f}")
    print(f"  gain in r      min {(inverse - raw).min():.3f}  mean {(inverse - raw).mean():.3f}")
    ratio = (1 - raw**2).mean() / (1 - inverse**2).mean()
    print(f"  unexplained variance, raw / inverse MDS: {ratio:.1f}x")


def cost(args) -> None:
    n = args.large
    rng = np.random.default_rng(0)
    truth = random_dissimilarity(n, n_dims=4, random_state=0).values
    arrangements = [simulate_arrangement(truth, range(n), random_state=rng)]
    arrangements += [
        simulate_arrangement(truth, rng.choice(n, args.subset, replace=False), random_state=rng)
        for _ in range(29)
    ]
    repeats = 20
    started = time.perf_counter()
    for k in range(repeats):
        evidence = arrangement_evidence(arrangements, n_items=n)
        lift_the_weakest(evidence, n_items=n, size=args.subset, random_state=k)
    next_ms = (time.perf_counter() - started) / repeats * 1000
    started = time.perf_counter()
    result = inverse_mds(arrangements, n_items=n)
    full_ms = (time.perf_counter() - started) * 1000
    print(f"cost ({n} faces, 30 arrangements):")
    print(f"  next subset (evidence + lift-the-weakest): {next_ms:.1f} ms")
    print(f"  inverse MDS: {full_ms:.0f} ms, {result.iterations} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--subset", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--large", type=int, default=200)
    args = parser.parse_args()
    print(f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    recovery(args)
    cost(args)


if __name__ == "__main__":
    main()
