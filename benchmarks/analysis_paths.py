"""Does each special path of `analysis.kernels` still pay at report sizes?

    .venv/bin/python benchmarks/analysis_paths.py [--draws 100]

For each path, the same call (dual bootstrap, and for tau-a a 1,000-permutation Mantel test of
the first model against the group matrix) runs with the path and with it replaced by the
plain alternative, in the same process on the same draws; prints the CPU seconds (best of 3,
so a loaded machine distorts them less than wall time) and whether the results agree.

Cases: the data of benchmarks/analysis.py (100 stimuli, 30 participants rating all pairs), a
demo-sized sparse triplet study (48 stimuli, 16 participants x 40 triplets), and a small
complete rating study (24 stimuli, 20 participants).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import analysis.evaluation as evaluation  # noqa: E402
import analysis.kernels.packed_counters as packed  # noqa: E402
import analysis.kernels.scratch as scratch  # noqa: E402
import analysis.kernels.tau_levels as tau_levels  # noqa: E402
from analysis.compare import model_matrices  # noqa: E402
from analysis.human.choices import choice_matrices, choice_table  # noqa: E402
from analysis.human.ratings import rating_matrices  # noqa: E402
from analysis.inference import bootstrap_indices, dual_bootstrap, mantel_test  # noqa: E402
from analysis.io import read_responses  # noqa: E402
from analysis.matrices import SimilarityMatrix  # noqa: E402
from analysis.quality import ExclusionRules, apply_exclusions  # noqa: E402
from analysis.simulate import Design, random_dissimilarity, simulate_responses  # noqa: E402


def simulated(n_stimuli: int, kind: str, n_participants: int, n_trials: int):
    truth = random_dissimilarity(n_stimuli, n_dims=4, random_state=0)
    design = Design(n_participants=n_participants, n_trials=n_trials, trial_type=kind)
    responses = read_responses(simulate_responses(truth, design, random_state=1))
    rows = apply_exclusions(responses, ExclusionRules()).responses
    human = rating_matrices(rows) if kind == "rating" else choice_matrices(*choice_table(rows))
    rng = np.random.default_rng(2)
    models = {}
    for k in range(4):
        noise = rng.normal(0, (0.3 + 0.3 * k) * truth.upper().std(), truth.values.shape)
        values = np.abs(truth.values + (noise + noise.T) / 2)
        np.fill_diagonal(values, 0.0)
        models[f"net{k}/fc7"] = SimilarityMatrix(values, truth.stimuli)
    return human, model_matrices(models, human.stimuli)


def benchmark_data():
    """The data of benchmarks/analysis.py (loaded by path: its name is the package's)."""
    spec = importlib.util.spec_from_file_location(
        "rsa_benchmark", Path(__file__).parent / "analysis.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, human, models = module.make_data()
    return human, model_matrices(models, human.stimuli)


@contextmanager
def patched(owner, name, value):
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def fresh_arrays():
    return patched(scratch.Scratch, "get", lambda self, name, shape, dtype: np.empty(shape, dtype))


def one_field_per_word():
    source = Path(packed.__file__).read_text()
    assert "per_word = 63 // bits" in source
    namespace = dict(vars(packed))
    exec(
        compile(source.replace("per_word = 63 // bits", "per_word = 1"), "1-field", "exec"),
        namespace,
    )
    return patched(tau_levels, "signed_pairs_in_order", namespace["signed_pairs_in_order"])


def codes_per_participant():
    def plain(x, w, y_t, n_levels, order=None):
        return tau_levels.tau_a_codes(x, y_t.T, w, n_levels)

    return patched(evaluation, "tau_a_one_x", plain)


def weighted_rank_sums():
    real = evaluation.rank_cross_sums
    return patched(evaluation, "rank_cross_sums", lambda a, b, c, unit=False: real(a, b, c))


PATHS = {  # path: (what replaces it, statistics it serves)
    "scratch buffers": (fresh_arrays, ("tau-a",)),
    "packed counters": (one_field_per_word, ("tau-a",)),
    "tau_a_one_x (model sorted once)": (codes_per_participant, ("tau-a",)),
    "unit-weight rank sums": (weighted_rank_sums, ("spearman", "rho-a")),
}


def agree(a, b) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(x, y, rtol=1e-12, atol=1e-14)
            except AssertionError:
                return False
        elif isinstance(x, np.ndarray | float) and not np.allclose(
            x, y, rtol=1e-12, atol=1e-14, equal_nan=True
        ):
            return False
    return True


def cpu_seconds(task, repeats: int = 3):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.process_time()
        out = task()
        best = min(best, time.process_time() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=100)
    n_boot = parser.parse_args().draws
    cases = {
        "100 stimuli x 30 participants, ratings": benchmark_data(),
        "48 stimuli x 16 participants, triplets": simulated(48, "triplet", 16, 40),
        "24 stimuli x 20 participants, ratings": simulated(24, "rating", 20, 276),
    }
    print(f"load average {os.getloadavg()[0]:.2f}; CPU seconds, best of 3; {n_boot} draws")
    print(f"{'case':40s} {'path':32s} {'task':22s} {'with':>6s} {'w/o':>6s} {'gain':>5s} same")
    for case, (human, models) in cases.items():
        stim = bootstrap_indices(human.n_stimuli, n_boot, random_state=1)
        part = bootstrap_indices(human.n_participants, n_boot, random_state=2)
        perms = np.random.default_rng(3).permuted(
            np.tile(np.arange(human.n_stimuli), (1000, 1)), axis=1
        )
        group = human.dissimilarity().group()
        first = next(iter(models.values()))
        for path, (without, methods) in PATHS.items():
            for method in methods:
                tasks = {
                    f"dual bootstrap {method}": partial(
                        dual_bootstrap,
                        models,
                        human,
                        method,
                        n_boot=n_boot,
                        stimulus_indices=stim,
                        participant_indices=part,
                    )
                }
                if method == "tau-a":
                    tasks["Mantel tau-a"] = partial(
                        mantel_test, first, group, "tau-a", permutations=perms
                    )
                for task_name, task in tasks.items():
                    on, a = cpu_seconds(task)
                    with without():
                        off, b = cpu_seconds(task)
                    print(
                        f"{case:40s} {path:32s} {task_name:22s} {on:6.2f} {off:6.2f} "
                        f"{off / on:5.2f} {agree(a, b)}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
