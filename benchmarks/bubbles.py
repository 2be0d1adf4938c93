"""Classification images streamed vs materialised (issue 14).

    .venv/bin/python benchmarks/bubbles.py [--participants 100] [--trials 300] [--size 128]
                                           [--naive-participants 10]

Trials: `--participants` x `--trials` Bubbles trials at `--size` px (apertures of sigma
size/20, 20-60 per trial, 75 % correct at random).  Streamed: `ClassificationImageAccumulator`
(blocks of 256 masks into running sums, regression per pixel from the sums).  Naive: each mask
drawn as a sum of full-image Gaussians, all masks kept in one array, then the same per-pixel
regression by least squares on that array.  The naive version runs on the first
`--naive-participants` participants (it needs 8 bytes x pixels x trials of memory); the speed
ratio compares both on those trials, and the memory column shows the streamed version flat in
the number of trials.  Both must give the same map.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis.bubbles import BubblesDesign, ClassificationImageAccumulator
from analysis.bubbles.masks import bubble_centres


def trials(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 2**32, n),
        rng.integers(20, 61, n),
        rng.random(n) < 0.75,
    )


def streamed(design, seeds, counts, correct):
    accumulator = ClassificationImageAccumulator(design)
    return accumulator.add_trials(seeds, counts, correct).image().z


def naive(design, seeds, counts, correct):
    rows, columns = np.mgrid[: design.height, : design.width]
    masks = np.empty((len(seeds), design.height, design.width))
    for i, (seed, count) in enumerate(zip(seeds, counts, strict=True)):
        centres = bubble_centres(int(seed), int(count), design.height, design.width)
        squared = (rows - centres[:, :1, None]) ** 2 + (columns - centres[:, 1:, None]) ** 2
        near = (np.abs(rows - centres[:, :1, None]) <= design.radius) & (
            np.abs(columns - centres[:, 1:, None]) <= design.radius
        )
        gaussians = np.where(near, np.exp(-squared / (2 * design.sigma**2)), 0.0)
        masks[i] = np.minimum(gaussians.sum(axis=0), 1.0)
    regressors = np.column_stack([np.ones(len(seeds)), correct, masks.mean(axis=(1, 2))])
    flat = masks.reshape(len(seeds), -1)
    coefficients, residuals, *_ = np.linalg.lstsq(regressors, flat, rcond=None)
    inverse = np.linalg.inv(regressors.T @ regressors)
    standard_error = np.sqrt(residuals / (len(seeds) - 3) * inverse[1, 1])
    return (coefficients[1] / standard_error).reshape(design.height, design.width)


def measure(function, *args):
    """The result, the seconds of an untraced run and the peak MiB of a second, traced run."""
    start = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    function(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--naive-participants", type=int, default=10)
    args = parser.parse_args()
    design = BubblesDesign(height=args.size, width=args.size, sigma=args.size / 20)
    total = args.participants * args.trials
    few = args.naive_participants * args.trials
    seeds, counts, correct = trials(total)
    print(f"{platform.machine()}, {platform.python_version()}, {total} trials at {args.size} px")

    z_few, streamed_few, streamed_few_mb = measure(
        streamed, design, seeds[:few], counts[:few], correct[:few]
    )
    z_naive, naive_few, naive_few_mb = measure(
        naive, design, seeds[:few], counts[:few], correct[:few]
    )
    assert np.allclose(z_few, z_naive, atol=1e-3), "streamed and naive maps differ"  # float32 masks
    _, streamed_all, streamed_all_mb = measure(streamed, design, seeds, counts, correct)

    print(f"{'':32s}{'seconds':>10s}{'peak MiB':>10s}")
    print(f"{'naive, ' + str(few) + ' trials':32s}{naive_few:10.2f}{naive_few_mb:10.1f}")
    print(f"{'streamed, ' + str(few) + ' trials':32s}{streamed_few:10.2f}{streamed_few_mb:10.1f}")
    print(f"{'streamed, ' + str(total) + ' trials':32s}{streamed_all:10.2f}{streamed_all_mb:10.1f}")
    print(f"speed ratio naive / streamed on {few} trials: {naive_few / streamed_few:.1f}x")
    print(f"memory ratio naive / streamed on {few} trials: {naive_few_mb / streamed_few_mb:.1f}x")
    print(f"streamed memory {total} / {few} trials: {streamed_all_mb / streamed_few_mb:.2f}x")


if __name__ == "__main__":
    main()
