"""analysis vs rsatoolbox 0.3.2 on the same data and the same resampling draws.

    .venv/bin/python benchmarks/analysis.py [--rsa-draws 50] [--rsa-permutations 1000]
                                            [--methods pearson spearman rho-a tau-a]
                                            [--report-job]
                                            [--sparse 300x100x300 ...] [--old-draws 3]
                                            [--sparse-draws 1000] [--no-study-analysis]
                                            [--jobs 2]

Data (issue 5): 100 stimuli, 30 participants who each rate all 4,950 pairs on a 1-7 scale
(made by `analysis.simulate`-style ratings from a known 4-D structure, z-scored per
participant by `analysis.human.ratings.rating_matrices`, so the RDMs have realistic ties),
and 2 models.  Per comparison method:

* leave-one-participant-out noise ceiling: ``rsatoolbox.inference.boot_noise_ceiling`` vs
  `analysis.compare.noise_ceiling`;
* 1,000-draw bootstrap over stimuli: ``eval_bootstrap_pattern`` vs
  `analysis.inference.bootstrap_evaluations` (models and ceilings on every draw);
* 1,000-draw dual bootstrap: ``eval_dual_bootstrap`` vs `analysis.inference.dual_bootstrap`;
* 10,000-permutation Mantel test: rsatoolbox has none, so the baseline permutes an rsatoolbox
  ``RDMs`` (``reorder``) and calls ``rsatoolbox.rdm.compare`` per permutation.

Both sides use the same draws: rsatoolbox's ``bootstrap_sample*`` helpers are swapped for ones
that return our rows (the rest of rsatoolbox runs unchanged).  rsatoolbox takes about 0.1-1.5 s
per draw here, so by default it runs the first ``--rsa-draws`` draws and its time is scaled to
1,000 (the per-draw cost is constant); equality is checked on those draws (and the
dual-bootstrap variances on a run of both tools over the same ``--rsa-draws`` draws).  Use
``--rsa-draws 1000`` for a full side-by-side run.  tau-a is batched like the others (exact
integer concordance counts, see analysis/kernels/tau_levels.py, ``tau_a_codes``).

Also: the human matrix from 1,000,000 triplet responses (target < 2 s), and with
``--report-job`` the cost of the report job for a demo-sized sparse triplet study (48
stimuli, 16 participants x 40 triplets + catch and repeat trials, 4 models x 2 layers,
``analyse_study`` with 1,000 bootstrap draws and 10,000 Mantel permutations, all four
statistics), with the dual bootstrap and Mantel test of each statistic timed on their own.

With ``--sparse NxPxT`` (issue 16; e.g. ``300x100x300`` and ``1000x500x300``): a sparse triplet
study of N faces, P participants x T triplets (random distinct triplets from
`analysis.simulate`, the platform planner's sparsity: each participant sees about 3 T of the
N(N-1)/2 pairs), two model layers, and the default analysis (`analyse_study`: four
statistics, 1,000 draws, 10,000 permutations), timed in full; then per statistic the dual
bootstrap's three runs on the observed cells (`CellEngine`, what `analyse_study` uses) against
the participants x all pairs implementation it replaced (`SparseEngine`) on the first
``--old-draws`` draws of each run, its time scaled to 1,000 draws, with the max |diff| of
evaluations and ceilings on those draws.  ``--old-draws 0`` skips the old side (at 1,000
faces one of its draws needs several (participants x pairs) arrays of 2 GB).
``--sparse-draws K`` runs the dual bootstraps on the first K of the 1,000 draws and scales
their time to 1,000 (the cost is linear in the draws; ``0`` skips them);
``--no-study-analysis`` skips `analyse_study` (for a projection when the machine is too busy
for the full run).  ``--jobs J`` runs `analyse_study` with ``n_jobs=J`` threads (its CPU time
counts all of them; the report job uses ``FACESIM_ANALYSIS_THREADS``).  The sparse studies
run inside `analysis._heap.kept_heap`, as `analyse_study`'s statistics do, and the projection
times the Mantel tests grouped as `compare_models` runs them (Spearman with rho-a).
"""

from __future__ import annotations

import os

# Both tools single-threaded (rsatoolbox's loops are; BLAS threads would also fight the other
# processes on a shared machine), so the ratios compare algorithms, not thread counts.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # rsatoolbox's progress bars

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis._heap import kept_heap  # noqa: E402
from analysis.cell_engine import SHARED_RANK_METHODS, RankSums  # noqa: E402
from analysis.compare import model_matrices, noise_ceiling  # noqa: E402
from analysis.evaluation import PairWeightRows, SparseEngine, make_engine  # noqa: E402
from analysis.human.choices import choice_matrices, choice_similarity, choice_table  # noqa: E402
from analysis.human.embedding import fit_embedding  # noqa: E402
from analysis.human.ratings import rating_matrices  # noqa: E402
from analysis.inference import (  # noqa: E402
    bootstrap_evaluations,
    bootstrap_indices,
    draw_counts,
    dual_bootstrap,
    mantel_test,
    mantel_tests,
)
from analysis.io import read_responses  # noqa: E402
from analysis.matrices import SimilarityMatrix, upper_indices  # noqa: E402
from analysis.quality import apply_exclusions  # noqa: E402
from analysis.simulate import (  # noqa: E402
    Design,
    random_dissimilarity,
    simulate_responses,
    simulate_triplet_codes,
)
from analysis.study_analysis import AnalysisParameters, analyse_study  # noqa: E402

RSA_METHOD = {"pearson": "corr", "spearman": "spearman", "rho-a": "rho-a", "tau-a": "tau-a"}
N_STIMULI, N_PARTICIPANTS, N_BOOT, N_PERMUTATIONS = 100, 30, 1000, 10_000
TARGET_RATIO, TARGET_TRIPLET_SECONDS = 50.0, 2.0


def make_data(seed: int = 0):
    """Ratings of every pair by every participant -> z-scored RDMs; two noisy models."""
    truth = random_dissimilarity(N_STIMULI, n_dims=4, random_state=seed)
    rng = np.random.default_rng(seed + 1)
    rows, cols = upper_indices(N_STIMULI)
    d = truth.upper()
    z = -(d - d.mean()) / d.std()
    frames = []
    for p in range(N_PARTICIPANTS):
        latent = rng.uniform(0.6, 1.4) * z + rng.normal(0, 0.4) + rng.normal(0, 0.8, d.size)
        ratings = np.clip(np.round(4 + 1.5 * latent), 1, 7)
        frames.append(
            pd.DataFrame(
                {
                    "participant": f"P{p:02d}",
                    "trial_type": "rating",
                    "role": "main",
                    "trial_index": np.arange(d.size),
                    "item_1": np.asarray(truth.stimuli)[rows],
                    "item_2": np.asarray(truth.stimuli)[cols],
                    "item_3": "",
                    "rating": ratings,
                    "rating_min": 1.0,
                    "rating_max": 7.0,
                }
            )
        )
    human = rating_matrices(pd.concat(frames, ignore_index=True), stimuli=truth.stimuli)
    models = {}
    for name, noise in (("vgg_face/fc7", 0.7), ("resnet50/layer4", 1.2)):
        e = rng.normal(0, noise * d.std(), d.size)
        models[name] = SimilarityMatrix.from_vector(np.abs(d + e), truth.stimuli, name=name)
    return truth, human, models


class RsaDraws:
    """Make rsatoolbox's evaluate module use given draws (as tests/unit/analysis/helpers)."""

    def __init__(self, stim=None, part=None):
        import rsatoolbox.inference.evaluate as evaluate

        self.ev, self.stim, self.part = (
            evaluate,
            iter(stim if stim is not None else []),
            iter(part if part is not None else []),
        )

    def __enter__(self):
        ev = self.ev
        self.saved = (ev.bootstrap_sample_pattern, ev.bootstrap_sample_rdm, ev.bootstrap_sample)

        def pattern(rdms, pattern_descriptor="index"):
            idx = next(self.stim)
            return rdms.subsample_pattern(pattern_descriptor, idx), idx

        def rdm(rdms, rdm_descriptor="index"):
            idx = next(self.part)
            return rdms.subsample(rdm_descriptor, idx), idx

        def both(rdms, rdm_descriptor="index", pattern_descriptor="index"):
            r, p = next(self.part), next(self.stim)
            return rdms.subsample(rdm_descriptor, r).subsample_pattern(pattern_descriptor, p), r, p

        ev.bootstrap_sample_pattern, ev.bootstrap_sample_rdm, ev.bootstrap_sample = (
            pattern,
            rdm,
            both,
        )
        return ev

    def __exit__(self, *exc):
        ev = self.ev
        ev.bootstrap_sample_pattern, ev.bootstrap_sample_rdm, ev.bootstrap_sample = self.saved


def rsa_mantel_draw(model, perm, group, method) -> float:
    """One permutation the rsatoolbox way: reorder a copy of the model RDM, compare."""
    from rsatoolbox.rdm import compare

    permuted = model.copy()
    permuted.reorder(perm)  # in place: patterns (rows and columns together)
    return float(compare(permuted, group, method)[0, 0])


class Clock:
    """Wall and CPU time of a block (CPU time is what a busy shared machine disturbs least)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def timed(fn, *args, **kwargs):
    with Clock() as clock:
        out = fn(*args, **kwargs)
    return out, clock


def maxdiff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = ~(np.isnan(a) & np.isnan(b))
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def row(task: str, method: str, theirs: Clock, ours: Clock, diff: float, scale=1.0) -> dict:
    """One line of the table; rsatoolbox's times are scaled from the draws it ran."""
    return {
        "task": task,
        "method": method,
        "rsa_wall": theirs.wall * scale,
        "rsa_cpu": theirs.cpu * scale,
        "ours_wall": ours.wall,
        "ours_cpu": ours.cpu,
        "diff": diff,
    }


def report(rows: list[dict]) -> None:
    print()
    print(
        f"{'task':38s} {'method':9s} {'rsatoolbox':>11s} {'analysis':>9s} {'ratio':>7s} "
        f"{'cpu ratio':>9s} {'max |diff|':>10s} equal"
    )
    for r in rows:
        equal = "yes" if r["diff"] < 1e-9 else "NO"
        print(
            f"{r['task']:38s} {r['method']:9s} {r['rsa_wall']:10.2f}s {r['ours_wall']:8.3f}s "
            f"{r['rsa_wall'] / r['ours_wall']:6.1f}x {r['rsa_cpu'] / r['ours_cpu']:8.1f}x "
            f"{r['diff']:10.1e} {equal}"
        )


def compare_method(method, args, human, models, rsa, draws) -> list[dict]:
    """Ceiling, stimulus bootstrap, dual bootstrap and Mantel for one method."""
    from rsatoolbox.inference import boot_noise_ceiling
    from rsatoolbox.rdm import RDMs

    rsa_data, rsa_models = rsa
    stim, part, perms = draws
    rsa_m = RSA_METHOD[method]
    n_ours = N_BOOT
    k = min(args.rsa_draws, n_ours)
    scale = n_ours / k
    print(f"[{method}] rsatoolbox on {k} of {n_ours} draws, analysis on all {n_ours}", flush=True)
    rows = []
    nc_theirs, theirs = timed(boot_noise_ceiling, rsa_data, method=rsa_m)
    nc_ours, ours = timed(noise_ceiling, human, method)
    diff = maxdiff(nc_theirs, (nc_ours.lower, nc_ours.upper))
    rows.append(row("LOO noise ceiling", method, theirs, ours, diff))
    with RsaDraws(stim=stim[:k]) as ev:
        boot_theirs, theirs = timed(
            ev.eval_bootstrap_pattern, rsa_models, rsa_data, method=rsa_m, N=k
        )
    boot_ours, ours = timed(
        bootstrap_evaluations,
        models,
        human,
        method,
        scheme="stimuli",
        n_boot=n_ours,
        stimulus_indices=stim[:n_ours],
    )
    diff = max(
        maxdiff(boot_theirs.evaluations, boot_ours.evaluations[:k]),
        maxdiff(boot_theirs.noise_ceiling.T, boot_ours.noise_ceiling[:k]),
    )
    rows.append(row(f"bootstrap over stimuli ({n_ours} draws)", method, theirs, ours, diff, scale))
    with RsaDraws(stim=stim[:k], part=part[:k]) as ev:
        dual_theirs, theirs = timed(ev.eval_dual_bootstrap, rsa_models, rsa_data, method=rsa_m, N=k)
    dual_ours, ours = timed(
        dual_bootstrap,
        models,
        human,
        method,
        n_boot=n_ours,
        stimulus_indices=stim[:n_ours],
        participant_indices=part[:n_ours],
    )
    # variances: both tools on the same k draws
    same = dual_bootstrap(
        models, human, method, n_boot=k, stimulus_indices=stim[:k], participant_indices=part[:k]
    )
    boots = (dual_ours.both, dual_ours.participants, dual_ours.stimuli)
    diff = max(
        *(
            maxdiff(dual_theirs.evaluations[:, :, 0, 0, s], b.evaluations[:k])
            for s, b in enumerate(boots)
        ),
        maxdiff(dual_theirs.model_var, same.model_variance),
        maxdiff(dual_theirs.diff_var, same.difference_variance),
        maxdiff(dual_theirs.noise_ceil_var, same.ceiling_difference_variance),
    )
    rows.append(row(f"dual bootstrap ({n_ours} draws)", method, theirs, ours, diff, scale))
    group = human.group()
    model = models["vgg_face/fc7"]
    n_rsa = min(args.rsa_permutations, N_PERMUTATIONS)
    rsa_model, rsa_group = RDMs(model.upper()), RDMs(group.upper())
    with Clock() as theirs:
        null = [rsa_mantel_draw(rsa_model, p, rsa_group, rsa_m) for p in perms[:n_rsa]]
    result, ours = timed(mantel_test, model, group, method, permutations=perms)
    diff = maxdiff(null, result.null[:n_rsa])
    rows.append(
        row(
            f"Mantel test ({N_PERMUTATIONS} permutations)",
            method,
            theirs,
            ours,
            diff,
            N_PERMUTATIONS / n_rsa,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # rsatoolbox needs at least 2 draws (it squeezes a single one away)
    parser.add_argument("--rsa-draws", type=int, default=50)
    parser.add_argument("--rsa-permutations", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=list(RSA_METHOD), choices=list(RSA_METHOD))
    parser.add_argument("--report-job", action="store_true", help="also time analyse_study")
    parser.add_argument(
        "--sparse", nargs="*", default=[], metavar="NxPxT", help="sparse studies (issue 16)"
    )
    parser.add_argument("--old-draws", type=int, default=3, help="old-path draws per run")
    parser.add_argument("--skip-dense", action="store_true", help="only the sparse studies")
    parser.add_argument("--sparse-draws", type=int, default=N_BOOT, help="dual-bootstrap draws")
    parser.add_argument("--no-study-analysis", action="store_true", help="skip analyse_study")
    parser.add_argument(
        "--jobs", type=int, default=1, help="analyse_study's n_jobs (threads); CPU counts all"
    )
    parser.add_argument(
        "--project-permutations",
        type=int,
        default=0,
        help="with --no-study-analysis: time the embedding fits and K Mantel permutations too",
    )
    args = parser.parse_args()
    if args.rsa_draws < 2:
        parser.error("--rsa-draws must be >= 2")
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    warnings.filterwarnings("ignore")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; python {platform.python_version()}, numpy {np.__version__},"
        f" rsatoolbox {version('rsatoolbox')}; BLAS threads "
        f"{os.environ['OPENBLAS_NUM_THREADS']}"
    )
    for spec in args.sparse:  # in the heap setting of analyse_study for the parts timed alone
        with kept_heap():
            sparse_study(
                *(int(k) for k in spec.split("x")),
                old_draws=args.old_draws,
                draws=args.sparse_draws,
                study_analysis=not args.no_study_analysis,
                n_jobs=args.jobs,
                project_permutations=args.project_permutations,
            )
    if args.skip_dense:
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return
    (truth, human, models), clock = timed(make_data)
    print(
        f"data: {N_STIMULI} stimuli, {human.n_participants} participants x "
        f"{human.n_pairs} rated pairs, {len(models)} models (built in {clock.wall:.1f} s)\n"
    )
    rsa = (RDMs(human.vectors()), [ModelFixed(n, RDMs(m.upper())) for n, m in models.items()])
    stim = bootstrap_indices(N_STIMULI, N_BOOT, random_state=1)
    part = bootstrap_indices(N_PARTICIPANTS, N_BOOT, random_state=2)
    perms = np.random.default_rng(3).permuted(
        np.tile(np.arange(N_STIMULI), (N_PERMUTATIONS, 1)), axis=1
    )
    rows = []
    for method in args.methods:
        rows += compare_method(method, args, human, models, rsa, (stim, part, perms))
    report(rows)
    boots = [r for r in rows if "bootstrap" in r["task"]]
    if boots:
        wall = min(r["rsa_wall"] / r["ours_wall"] for r in boots)
        cpu = min(r["rsa_cpu"] / r["ours_cpu"] for r in boots)
        verdict = "met" if min(wall, cpu) >= TARGET_RATIO else "NOT met"
        print(
            f"\nbootstraps ({'/'.join(args.methods)}), slowest ratio: wall {wall:.1f}x, cpu "
            f"{cpu:.1f}x (target >= {TARGET_RATIO:.0f}x): {verdict}"
        )
    print(f"all results equal (|diff| < 1e-9): {all(r['diff'] < 1e-9 for r in rows)}")
    triplets = simulate_triplet_codes(truth, 1_000_000, N_PARTICIPANTS, random_state=4)
    with Clock() as clock:
        table, ids = choice_table(triplets)
        group = choice_similarity(table, ids)
    _, per_participant = timed(choice_matrices, table, ids)
    met = "met" if clock.wall < TARGET_TRIPLET_SECONDS else "NOT met"
    print(
        f"\nhuman matrix from 1,000,000 triplet responses: {clock.wall:.2f} s (cpu "
        f"{clock.cpu:.2f} s; target < {TARGET_TRIPLET_SECONDS:.0f} s: {met}); per-participant "
        f"matrices another {per_participant.wall:.2f} s; {group.n_missing_pairs} missing "
        f"pairs, median {np.median(group.upper_counts()):.0f} offers per pair"
    )
    if args.report_job:
        report_job()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def report_job() -> None:
    """Time `analyse_study` on a demo-sized sparse triplet study, then its two costliest
    steps per statistic on their own (the same calls `compare_models` makes)."""
    truth = random_dissimilarity(48, n_dims=4, random_state=0)
    design = Design(n_participants=16, n_trials=40, catch_fraction=0.1, repeat_fraction=0.1)
    responses = read_responses(simulate_responses(truth, design, random_state=1))
    rng = np.random.default_rng(2)
    models = {}
    for k in range(4):
        for layer in ("conv5", "fc7"):
            noise = rng.normal(0, (0.3 + 0.3 * k) * truth.upper().std(), truth.values.shape)
            values = np.abs(truth.values + (noise + noise.T) / 2)
            np.fill_diagonal(values, 0.0)
            models[f"net{k}/{layer}"] = SimilarityMatrix(values, truth.stimuli)
    params = AnalysisParameters(n_boot=N_BOOT, n_permutations=N_PERMUTATIONS, random_state=0)
    result, clock = timed(analyse_study, responses, models, parameters=params)
    human = result.human
    print(
        f"\nreport job: {len(result.stimuli)} stimuli, {human.n_participants} participants "
        f"({np.isnan(human.vectors()).mean():.0%} of participant x pair cells empty), "
        f"{len(models)} model layers, {N_BOOT} draws, {N_PERMUTATIONS} permutations, "
        f"methods {', '.join(params.methods)}"
    )
    print(f"analyse_study: {clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU")
    aligned = model_matrices(models, human.stimuli)
    stim = bootstrap_indices(human.n_stimuli, N_BOOT, random_state=1)
    part = bootstrap_indices(human.n_participants, N_BOOT, random_state=2)
    perms = np.random.default_rng(3).permuted(
        np.tile(np.arange(human.n_stimuli), (N_PERMUTATIONS, 1)), axis=1
    )
    for method in params.methods:
        _, dual = timed(
            dual_bootstrap,
            aligned,
            human,
            method,
            n_boot=N_BOOT,
            stimulus_indices=stim,
            participant_indices=part,
        )
        with Clock() as mantel:
            for model in aligned.values():
                mantel_test(model, result.human_group, method, permutations=perms)
        print(
            f"  {method:9s} dual bootstrap {dual.cpu:6.1f} s CPU; Mantel, all layers "
            f"{mantel.cpu:6.1f} s CPU"
        )


def sparse_study(
    n_stimuli: int,
    n_participants: int,
    n_trials: int,
    *,
    old_draws: int,
    draws: int,
    study_analysis: bool,
    n_jobs: int = 1,
    project_permutations: int = 0,
) -> None:
    """The default analysis of a sparse triplet study, then each statistic's dual bootstrap
    on the observed cells against the old participants x all pairs path (see module doc)."""
    truth = random_dissimilarity(n_stimuli, n_dims=4, random_state=0)
    design = Design(n_participants=n_participants, n_trials=n_trials)
    responses = read_responses(simulate_responses(truth, design, random_state=1))
    rng = np.random.default_rng(2)
    models = {}
    for k in range(2):
        noise = rng.normal(0, (0.3 + 0.3 * k) * truth.upper().std(), truth.values.shape)
        values = np.abs(truth.values + (noise + noise.T) / 2)
        np.fill_diagonal(values, 0.0)
        models[f"net{k}/fc7"] = SimilarityMatrix(values, truth.stimuli)
    params = AnalysisParameters(n_boot=N_BOOT, n_permutations=N_PERMUTATIONS, random_state=0)
    human = choice_matrices(*choice_table(responses)).dissimilarity()
    timing = "not run"
    if study_analysis:
        result, clock = timed(analyse_study, responses, models, parameters=params, n_jobs=n_jobs)
        human = result.human  # after the default exclusions
        timing = f"{clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU, n_jobs {n_jobs}"
        if result.embedding is not None:
            timing += (
                f"; group matrix: {result.embedding.best_dims}-dimensional embedding "
                f"({result.embedding.unconverged_fits} fits stopped unconverged)"
            )
    cells = len(human.sums) / (human.n_participants * human.n_pairs)
    print(
        f"\nsparse study: {human.n_stimuli} faces, {human.n_participants} participants x "
        f"{n_trials} triplets ({len(human.sums)} observed cells, {cells:.1%} of participants x "
        f"pairs), {len(models)} model layers; default analysis ({N_BOOT} draws, "
        f"{N_PERMUTATIONS} permutations, {', '.join(params.methods)}): {timing}; load "
        f"average {os.getloadavg()[0]:.2f}"
    )
    aligned = model_matrices(models, human.stimuli)
    vectors = np.stack([m.upper() for m in aligned.values()])
    projected = 0.0
    if project_permutations and not study_analysis:
        projected = project_embedding_and_mantel(responses, aligned, params, project_permutations)
    counts = draw_counts(
        bootstrap_indices(human.n_stimuli, N_BOOT, random_state=1), human.n_stimuli
    )
    part_w = draw_counts(
        bootstrap_indices(human.n_participants, N_BOOT, random_state=2), human.n_participants
    )
    if draws == 0:  # --sparse-draws 0: the default analysis only
        return
    counts, part_w = counts[:draws], part_w[:draws]
    pair_w, ones = PairWeightRows(counts), PairWeightRows(np.ones_like(counts))
    runs = ((pair_w, part_w), (ones, part_w), (pair_w, np.ones_like(part_w)))
    rank_sums = RankSums()  # as in compare_models: rho-a finishes Spearman's rank sums
    for method in params.methods:
        shared = rank_sums if method in SHARED_RANK_METHODS else None
        engine = make_engine(vectors, human, method, rank_sums=shared)
        with Clock() as new:
            outs = [engine.run(pw, uw) for pw, uw in runs]
        new.cpu, new.wall = new.cpu * N_BOOT / draws, new.wall * N_BOOT / draws
        projected += new.cpu
        line = f"  {method:9s} dual bootstrap on the cells {new.cpu:7.1f} s CPU ({new.wall:.1f} s)"
        if draws < N_BOOT:
            line += f" (scaled from {draws} draws)"
        if old_draws:
            old_engine = SparseEngine(vectors, human.vectors(), method)
            with Clock() as old:
                olds = [old_engine.run(pw[:old_draws], uw[:old_draws]) for pw, uw in runs]
            scale = N_BOOT / old_draws
            diff = max(
                maxdiff(a[:old_draws], b)
                for out, ref in zip(outs, olds, strict=True)
                for a, b in zip(out, ref, strict=True)
            )
            line += (
                f"; old path ({old_draws} draws, scaled) {old.cpu * scale:8.1f} s CPU: "
                f"{old.cpu * scale / new.cpu:5.1f}x CPU, {old.wall * scale / new.wall:5.1f}x wall;"
                f" max |diff| {diff:.1e}"
            )
        print(line, flush=True)

    if project_permutations and not study_analysis:
        print(
            f"  projected default analysis: {projected:.1f} s CPU (embedding fits, Mantel tests and"
            " dual bootstraps, scaled; the rest of analyse_study is not counted)"
        )


def project_embedding_and_mantel(responses, aligned, params, permutations: int) -> float:
    """CPU time of the embedding's dimensionality choice (one fit per dimensionality on one
    fold's training trials, scaled to the folds x dimensionalities + 1 fits) and of the Mantel
    tests (`permutations` of them per statistic and layer, against that fit's group matrix,
    scaled to 10,000), printed; returns their sum."""
    choices, stimuli = choice_table(apply_exclusions(responses, params.exclusions).responses)
    train = choices.iloc[np.random.default_rng(0).permutation(len(choices))]
    train = train.iloc[: len(train) * (params.embedding_folds - 1) // params.embedding_folds]
    with Clock() as fits:
        for d in params.embedding_dims:
            embedding = fit_embedding(train, stimuli, d, penalty=params.embedding_penalty)
    n_fits = len(params.embedding_dims) * params.embedding_folds + 1
    fit_cpu = fits.cpu * n_fits / len(params.embedding_dims)
    group = embedding.similarity()
    perms = np.random.default_rng(0).permuted(
        np.tile(np.arange(len(stimuli)), (permutations, 1)), axis=1
    )
    total = fit_cpu
    print(
        f"  embedding: {len(params.embedding_dims)} fits {fits.cpu:.1f} s CPU, x {n_fits} fits"
        f" {fit_cpu:.1f} s CPU (scaled)"
    )
    ranks = tuple(m for m in params.methods if m in SHARED_RANK_METHODS)
    others = [(m,) for m in params.methods if m not in SHARED_RANK_METHODS]
    for methods in others + ([ranks] if ranks else []):  # as compare_models groups them
        with Clock() as mantel:
            for model in aligned.values():
                mantel_tests(model, group, methods, perms)
        scaled = mantel.cpu * N_PERMUTATIONS / permutations
        total += scaled
        name = " + ".join(methods)
        print(f"  {name:16s} Mantel, all layers {scaled:7.1f} s CPU (scaled from {permutations})")
    return total


if __name__ == "__main__":
    main()
