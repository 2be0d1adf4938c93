"""tau-a's Mantel null: the compiled permuted count (`analysis.kernels.permuted_tau`) against
the path it replaced, in the same run.

    .venv/bin/python benchmarks/permuted_tau.py [--permutations 200]

Shapes (faces, distinct values of the model, of the group matrix): the 1,000-face benchmark's
(a model against an embedding's group matrix, both with a distinct value for almost every
pair), group matrices with few values (proportions, ratings) and models with few values.
The baseline is what `analysis.inference` did before: when both sides had more than 64
values, the model's codes gathered in the group's order chunk by chunk and scipy's
Fenwick-tree merge count (``scipy.stats._stats._kendall_dis``) per permutation; otherwise the
gathered chunks through the levels algorithm (`tau_a_of_codes`).  Both run the same
permutations and must give the same floats; the 1,000-face shape also runs on two threads
at once (as `compare_models` runs the Mantel tests of two models).  Milliseconds per
permutation per thread, and the ratio.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats._stats import _kendall_dis  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis.kernels import LEVELS_TAU_MAX_LEVELS, dense_codes, tau_a_of_codes  # noqa: E402
from analysis.kernels.permuted_tau import PermutedTau  # noqa: E402
from analysis.matrices import upper_indices  # noqa: E402

CHUNK_ELEMENTS = 4_000_000  # the old path's chunk of gathered codes
SHAPES = (  # faces, model values, group values (0: one per pair)
    (1000, 0, 0),
    (1000, 0, 20),
    (1000, 5, 0),
    (1000, 5, 7),
    (300, 0, 0),
    (300, 3, 7),
    (48, 0, 0),
)


def codes_of(values: np.ndarray) -> tuple[np.ndarray, int]:
    codes, levels = dense_codes(values[None], np.ones((1, values.size), dtype=bool))
    return codes[0], int(levels[0])


def matrices(n: int, model_values: int, group_values: int):
    """(model codes n x n and their levels, group codes of the upper triangle and theirs,
    rows, cols): distances of points in 6 dimensions, the model's with noise, each rounded
    to the given number of values (0: left continuous)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, 6))
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    rows, cols = upper_indices(n)
    group = distances[rows, cols]
    model = group + rng.normal(0, 0.5 * group.std(), group.size)
    for values, count in ((model, model_values), (group, group_values)):
        if count:
            edges = np.quantile(values, np.linspace(0, 1, count + 1)[1:-1])
            values[:] = np.searchsorted(edges, values)
    model_codes, model_levels = codes_of(model)
    square = np.zeros((n, n), dtype=np.int64)
    square[rows, cols] = square[cols, rows] = model_codes
    return (square, model_levels, *codes_of(group), rows, cols)


def old_null(x_codes, x_levels, y_codes, y_levels, rows, cols, perms) -> np.ndarray:
    """The path before, per chunk of permutations one gather of the model's codes."""
    null = np.empty(len(perms))
    step = max(1, CHUNK_ELEMENTS // rows.size)
    by_merge = min(x_levels, y_levels) > LEVELS_TAU_MAX_LEVELS
    order = np.argsort(y_codes, kind="stable")
    y_sorted = y_codes[order]
    pairs = rows.size * (rows.size - 1) // 2
    for start in range(0, len(perms), step):
        p = perms[start : start + step]
        if not by_merge:
            gathered = x_codes[p[:, rows], p[:, cols]]
            null[start : start + step] = tau_a_of_codes(
                gathered,
                np.full(len(p), x_levels),
                np.broadcast_to(y_codes, gathered.shape),
                np.full(len(p), y_levels),
                np.ones_like(gathered),
            )
            continue
        gathered = x_codes[p[:, rows[order]], p[:, cols[order]]]
        for k, x in enumerate(gathered):  # no ties on either side in these shapes
            discordant = _kendall_dis(y_sorted, x + 1)
            null[start + k] = (pairs - 2 * discordant) / pairs
    return null


def compiled_null(x_codes, x_levels, y_codes, y_levels, rows, cols, perms) -> np.ndarray:
    return PermutedTau(x_codes, y_codes, rows, cols).tau_a(perms)


def timed(function, data, perms, threads: int):
    """(null of the first thread, seconds wall per permutation per thread)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        nulls = list(pool.map(lambda _: function(*data, perms), range(threads)))
    return nulls[0], (time.perf_counter() - start) / len(perms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=200)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; python {platform.python_version()}, numpy {np.__version__}"
    )
    print("faces  model values  group values  threads   before ms  compiled ms  ratio")
    for n, model_values, group_values in SHAPES:
        data = matrices(n, model_values, group_values)
        rng = np.random.default_rng(1)
        count = args.permutations * max(1, 1000 // n)  # more of the short ones
        perms = rng.permuted(np.tile(np.arange(n), (count, 1)), axis=1)
        compiled_null(*data, perms[:2])  # compile (or load numba's cache) outside the timing
        for threads in (1, 2) if (n, model_values, group_values) == SHAPES[0] else (1,):
            old, old_time = timed(old_null, data, perms, threads)
            new, new_time = timed(compiled_null, data, perms, threads)
            if not np.array_equal(old, new):
                raise SystemExit(f"the two nulls differ at {n} faces")
            print(
                f"{n:5d}  {model_values or data[1]:12d}  {group_values or data[3]:12d}  "
                f"{threads:7d}  {old_time * 1e3:10.3f}  {new_time * 1e3:11.3f}  "
                f"{old_time / new_time:5.2f}x"
            )
    print("(nulls equal on every shape)")


if __name__ == "__main__":
    main()
