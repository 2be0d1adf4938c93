"""The 'burst of starts' scenario of ``participant_api.py``: many participants consent within
a minute to a large triplet study, in the same run against three designs: the serialised
start (the code before the planning lock was shortened; ``--serialised-ref ''`` skips it),
the current code with every start planning for itself (``FACESIM_PLAN_POOL_SIZE=0``), and the
current code taking plans computed ahead (``--pool-size``), topped up by one Celery worker
(the pool filled before the burst, as when the study went live).

Each simulated participant opens the Prolific start link (GET, not timed), then the timed
part, start-to-first-trial: POST "I agree" (the session and its plan are made), the runner
page it is redirected to, and ``GET /api/p/<token>/plan`` (the first trial's images).
Arrival times are uniform over the window (seeded); a share of the participants double-
submits the consent form (two POSTs at once), which must give one session.
Afterwards, per study: coverage spread over the main trials (per stimulus: uses max - min
and coefficient of variation; per pair: max - min and CV), the exactly-once check, and every
plan computed again from the exact counts of the sessions before it (a plan made from stale
counts differs). Server CPU counts every gunicorn, PostgreSQL, Redis and Celery process on
the host.
"""

import asyncio
import copy
import io
import os
import random
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import aiohttp
import numpy as np
from bench_django import ROOT, cpu_by_process, start_gunicorn
from PIL import Image

SERIALISED_REF = "5b14dd2"  # the last commit whose starts planned under the study row lock
TIMEOUT = aiohttp.ClientTimeout(total=120)
SERVER_PROCESSES = ("gunicorn", "postgres", "redis-server", "celery")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Burst:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # pid -> tokens handed out
    seconds: float = 0.0  # first arrival to last plan
    server_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process name

    def percentile(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1


def distinct_png(index: int) -> bytes:
    """A small image of its own colour for each index below 256**3 (the import drops
    duplicates, so the set really has one image per index)."""
    colour = (index % 256, (index // 256) % 256, index // 65536)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_burst_study(*, slug: str, faces: int, trials: int, target: int):
    """A live triplet study on a ``faces``-image set (the set is made once and kept)."""
    from django.db import transaction

    from studyapp.models import StimulusSet, Study
    from studyapp.services.stimuli import stimulus_set_import
    from tests.factories import make_study, source

    with transaction.atomic():
        Study.objects.filter(slug=slug).delete()
    name = f"bench-burst-{faces}"
    stimulus_set = StimulusSet.objects.filter(name=name).first()
    if stimulus_set is None or stimulus_set.stimuli.count() != faces:
        started = time.perf_counter()
        files = [source(f"face{i:04d}.png", distinct_png(i)) for i in range(faces)]
        stimulus_set, _ = stimulus_set_import(name=name, files=files)
        print(f"imported {faces} faces in {time.perf_counter() - started:.1f} s")
    return make_study(
        stimulus_set,
        slug=slug,
        trials_per_participant=trials,
        target_participants=target,
        practice_trials=2,
        repeat_rate=0.05,
        catch_rate=0.05,
    )


async def one_start(connector, base, slug, pid, run, double) -> None:
    """Consent page, then the timed consent POST (twice at once when ``double``), runner
    page and plan."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        connector=connector, connector_owner=False, cookie_jar=jar, timeout=TIMEOUT
    ) as session:
        async with session.get(f"{base}/s/{slug}/", params={"PROLIFIC_PID": pid}) as page:
            csrf = CSRF_FIELD.search(await page.text())
        if csrf is None:
            run.fail(f"consent page {page.status}")
            return
        form = {"csrfmiddlewaretoken": csrf.group(1), "PROLIFIC_PID": pid, "decision": "agree"}
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(agree_and_plan(session, base, slug, form) for _ in range(2 if double else 1))
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
    for outcome in outcomes:
        if outcome.startswith("error:"):
            run.fail(outcome)
        else:
            run.tokens.setdefault(pid, set()).add(outcome)
    if not any(outcome.startswith("error:") for outcome in outcomes):
        run.latencies_ms.append(elapsed_ms)


async def agree_and_plan(session, base, slug, form) -> str:
    """The session token of a consent POST that ended with its plan, or 'error: ...'."""
    try:
        return await _agree_and_plan(session, base, slug, form)
    except (aiohttp.ClientError, TimeoutError) as error:
        return f"error: {type(error).__name__}"


async def _agree_and_plan(session, base, slug, form) -> str:
    async with session.post(f"{base}/s/{slug}/consent", data=form) as runner:
        await runner.read()
        match = re.search(r"/p/([^/]+)/", str(runner.url))
        if runner.status != 200 or match is None:
            return f"error: consent {runner.status}"
    async with session.get(f"{base}/api/p/{match.group(1)}/plan") as plan:
        body = await plan.json()
        if plan.status != 200 or not body.get("trials"):
            return f"error: plan {plan.status}"
    return match.group(1)


async def burst(base, slug, *, starts, window_s, duplicates, seed, name) -> Burst:
    run = Burst(name)
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, window_s) for _ in range(starts))
    doubles = set(rng.sample(range(starts), round(duplicates * starts)))
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a browser each
    began, cpu_before = time.perf_counter(), cpu_by_process(SERVER_PROCESSES)

    async def arrive(i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
        await one_start(connector, base, slug, f"{slug}-pid-{i}", run, i in doubles)

    try:
        await asyncio.gather(*(arrive(i, at) for i, at in enumerate(arrivals)))
    finally:
        await connector.close()
    run.seconds = time.perf_counter() - began
    cpu_after = cpu_by_process(SERVER_PROCESSES)
    run.server_cpu = {name: t - cpu_before[name] for name, t in cpu_after.items()}
    return run


def coverage_spread(slug: str) -> dict[str, float]:
    """Spread of the main triplets' counts: per stimulus and per pair of stimuli."""
    from studyapp.models import Study
    from studyapp.selectors.coverage import study_coverage

    study = Study.objects.get(slug=slug)
    ids = study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True)
    counts = study_coverage(study=study, position_of={pk: i for i, pk in enumerate(ids)})
    pairs = counts["triplet"].pairs
    uses = counts["triplet"].item_uses
    pair_counts = pairs[np.triu_indices(len(uses), 1)]
    return {
        "stimulus_range": int(uses.max() - uses.min()),
        "stimulus_cv": float(uses.std() / uses.mean()),
        "pair_range": int(pair_counts.max() - pair_counts.min()),
        "pair_cv": float(pair_counts.std() / pair_counts.mean()),
        "mean_uses": float(uses.mean()),
    }


def plans_from_exact_counts(slug: str) -> str:
    """Each stored plan computed again from its seed, its block-order row and the main trials
    of every session started before it (all of them count in a burst): how many differ."""
    from studyapp.models import Study, Trial
    from studyapp.planning import Coverage, build_plan
    from studyapp.services.plans import plan_settings

    study = Study.objects.get(slug=slug)
    ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    position = {pk: i for i, pk in enumerate(ids)}
    settings = plan_settings(study=study)
    people = {p.pk: p for p in study.participants.all()}
    rows = (
        Trial.objects.filter(participant__study=study)
        .order_by("participant_id", "index")
        .values_list("participant_id", "trial_type", "role", "items")
    )
    coverage, differ = {}, 0
    for pk, trials in groupby(rows, key=lambda row: row[0]):
        stored = [(t, role, [position[i] for i in items]) for _, t, role, items in trials]
        counts = copy.deepcopy(coverage)
        plan = build_plan(
            len(ids),
            settings,
            counts,
            seed=people[pk].plan_seed,
            order_row=people[pk].block_order,
        )
        differ += [(t.trial_type, t.role, list(t.items)) for t in plan] != stored
        for trial_type, role, items in stored:  # the counts as stored, whatever was replayed
            if role == "main":
                coverage.setdefault(trial_type, Coverage(len(ids))).add(items)
    return f"plans that differ from the plan of the exact counts: {differ} of {len(people)}"


def exactly_once(slug: str, run: Burst) -> str:
    from studyapp.models import Participant

    stored = Participant.objects.filter(study__slug=slug)
    split = sum(len(tokens) > 1 for tokens in run.tokens.values())
    unknown = {t for tokens in run.tokens.values() for t in tokens} - set(
        stored.values_list("token", flat=True)
    )
    return (
        f"sessions stored {stored.count()} for {len(run.tokens)} participants; "
        f"double-submits given two sessions: {split}; tokens not stored: {len(unknown)}"
    )


def serialised_tree(ref: str) -> Path:
    """The code of ``ref`` in a temporary folder (git archive), sharing this .venv."""
    folder = Path(tempfile.mkdtemp(prefix="facesim-serialised-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def report(run: Burst, spread: dict, check: str) -> str:
    return (
        f"{run.name:<28} starts {len(run.latencies_ms)}  "
        f"start-to-first-trial p50 {run.percentile(0.5):6.0f} ms  "
        f"p95 {run.percentile(0.95):6.0f} ms  p99 {run.percentile(0.99):6.0f} ms  "
        f"max {max(run.latencies_ms, default=float('nan')):6.0f} ms  failures {run.failures}\n"
        f"{'':<28} coverage: uses per stimulus {spread['mean_uses']:.1f}, range "
        f"{spread['stimulus_range']}, CV {spread['stimulus_cv']:.4f}; pairs range "
        f"{spread['pair_range']}, CV {spread['pair_cv']:.3f}\n{'':<28} {check}\n"
        f"{'':<28} all plans served after {run.seconds:.0f} s; server CPU per start: "
        + ", ".join(
            f"{name} {1000 * seconds / max(len(run.tokens), 1):.0f} ms"
            for name, seconds in sorted(run.server_cpu.items())
        )
    )


@dataclass
class Design:
    name: str
    tree: Path
    pool_size: int  # FACESIM_PLAN_POOL_SIZE of the server (0: every start plans for itself)


def designs(args) -> list[Design]:
    """The serialised start (if asked for), starts that plan for themselves, pooled plans."""
    chosen = [
        Design("planning at each start", ROOT, 0),
        Design("pooled plans", ROOT, args.pool_size),
    ]
    if args.serialised_ref:
        chosen.insert(0, Design("serialised (before)", serialised_tree(args.serialised_ref), 0))
    return chosen


def run_bursts(args) -> None:
    """Every design's burst, one after the other; prints latency and coverage for each."""
    os.environ["FACESIM_RATE_START_PER_MINUTE"] = str(100 * args.starts)  # one address here
    lines = []
    for number, design in enumerate(designs(args)):
        slug = f"bench-burst-{number}"
        study = make_burst_study(
            slug=slug, faces=args.faces, trials=args.trials, target=args.starts
        )
        os.environ["FACESIM_PLAN_POOL_SIZE"] = str(design.pool_size)
        worker = pool_worker_start(study, design.pool_size) if design.pool_size else None
        server, base = start_gunicorn(workers=args.workers, threads=args.threads, root=design.tree)
        try:
            run = asyncio.run(
                burst(
                    base,
                    slug,
                    starts=args.starts,
                    window_s=args.window,
                    duplicates=args.duplicates,
                    seed=number,
                    name=design.name,
                )
            )
        finally:
            server.terminate()
            server.wait()
            if worker is not None:
                worker.stop()
        checks = f"{exactly_once(slug, run)}\n{'':<28} {plans_from_exact_counts(slug)}"
        lines.append(report(run, coverage_spread(slug), checks))
        print(lines[-1], flush=True)
    print(
        f"\nburst: {args.starts} starts in {args.window:.0f} s, {args.faces} faces, "
        f"{args.trials} triplets each; gunicorn {args.workers} x {args.threads}, "
        f"{os.cpu_count()} CPUs; serialised = {args.serialised_ref or 'not run'}; "
        f"pool {args.pool_size} plans, one Celery worker (concurrency 1) topping it up"
    )
    print("\n".join(lines))


def pool_worker_start(study, pool_size: int):
    """A Celery worker for this design's server, and the study's pool filled as when it went
    live (minutes before the recruitment platform sends people)."""
    from studyapp.models import PooledPlan
    from studyapp.services.plan_pool import plan_pool_request
    from tests.worker import Worker

    log = Path(tempfile.mkdtemp(prefix="facesim-burst-worker-")) / "worker.log"
    worker = Worker(dict(os.environ), log, name="burst").start()
    plan_pool_request(study=study)
    deadline = time.monotonic() + 300
    while PooledPlan.objects.filter(study=study).count() < min(
        pool_size, study.target_participants
    ):
        if time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the pool was not filled in 300 s; worker log: {log}")
        time.sleep(0.5)
    return worker
