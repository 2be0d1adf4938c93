"""Response POSTs per second and latency under simulated participants, against gunicorn.

    .venv/bin/python benchmarks/participant_api.py [--duration 20] [--workers 3] [--threads 4]
    .venv/bin/python benchmarks/participant_api.py --scenario burst [--starts 500] [--window 60]
        [--faces 1000] [--trials 100] [--pool-size 50] [--serialised-ref REF]

Scenarios (each for --duration seconds), all in one run:
- baseline: ``GET /healthz`` (one ``SELECT 1``) as fast as 50 clients can: the floor of
  Django + gunicorn + PostgreSQL on this machine;
- saturation: 50 participants POST responses back to back (no pause);
- paced: 50 participants answering every 100 ms, and 200 participants every 500 ms
  (about 400 responses/s offered each), and 200 participants every 600 ms (about 330/s:
  the target rate with 200 participants).
Afterwards the database is checked: every acknowledged response is stored exactly once.
Targets (issue 2): >= 300 responses/s with p99 < 100 ms at 50 and 200 participants.

``--scenario burst`` (issue 16, ``start_burst.py``): ``--starts`` participants consent within
``--window`` seconds to a ``--faces``-image triplet study, against the serialised start
(``--serialised-ref``), starts that plan for themselves and pooled plans (``--pool-size``) in
the same run: start-to-first-trial latency (p50/p95/p99) and the coverage spread of each.
Target: p99 < 1 s at 500 starts a minute.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import yarl
from bench_django import cpu_by_process, setup_django, start_gunicorn
from start_burst import SERIALISED_REF, run_bursts


@dataclass
class Run:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    client_cpu: float = 0.0  # CPU cores the load generator itself used (same machine)
    server_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process name

    def record(self, status: int, elapsed_ms: float) -> None:
        self.latencies_ms.append(elapsed_ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        return values[min(len(values) - 1, int(q * len(values)))]

    def line(self, baseline: "Run | None" = None) -> str:
        ratio = f"  ({self.rate / baseline.rate:.2f}x baseline)" if baseline else ""
        p50, p99 = statistics.median(self.latencies_ms), self.percentile(0.99)
        return (
            f"{self.name:<44} {self.rate:8.0f}/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
            f"  statuses {self.statuses}  client {self.client_cpu:.2f} cores{ratio}"
            f"\n{'':<44} CPU per request: "
            + ", ".join(
                f"{name} {1000 * seconds / len(self.latencies_ms):.2f} ms"
                for name, seconds in sorted(self.server_cpu.items())
            )
        )


@dataclass
class Simulated:
    """A participant's session: its token and the plan entries still to answer."""

    token: str
    trials: list[dict]
    acknowledged: list[int] = field(default_factory=list)


def prepare_participants(count: int, trials_each: int) -> list[Simulated]:
    from django.db import connection, transaction

    from studyapp.models import Participant, Study
    from studyapp.selectors.plans import participant_plan
    from tests.factories import make_stimulus_set, make_study, start_participant

    with transaction.atomic():
        Study.objects.filter(slug__startswith="bench-").delete()
    study = make_study(
        make_stimulus_set(24, name=f"bench-set-{os.getpid()}-{time.time():.0f}"),
        slug="bench-api",
        trials_per_participant=trials_each,
        target_participants=count,
        practice_trials=0,
        repeat_rate=0.0,
        catch_rate=0.0,
    )
    started = time.perf_counter()
    participants = [start_participant(study, f"bench-{i}") for i in range(count)]
    print(
        f"planned {count} participants x {trials_each} trials in "
        f"{time.perf_counter() - started:.1f} s"
    )
    with connection.cursor() as cursor:  # steady state: the previous run's rows vacuumed away,
        # so autovacuum does not run during the scenarios (as in the export benchmark)
        cursor.execute("VACUUM (ANALYZE) studyapp_participant, studyapp_trial, studyapp_response")
    return [
        Simulated(p.token, participant_plan(participant=Participant.objects.get(pk=p.pk))["trials"])
        for p in participants
    ]


def answer(trial: dict, rng: random.Random) -> dict:
    return {
        "trial": trial["index"],
        "choice": rng.choice(trial["items"]),
        "rt_ms": round(rng.uniform(400, 2500), 1),
    }


async def participant_loop(session, base, csrf, person, run, stop_at, think_s, rng) -> None:
    headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
    url = f"{base}/api/p/{person.token}/responses"
    if think_s:
        await asyncio.sleep(rng.uniform(0, think_s))  # spread the start
    while person.trials and time.perf_counter() < stop_at:
        trial = person.trials.pop(0)
        started = time.perf_counter()
        async with session.post(url, data=json.dumps(answer(trial, rng)), headers=headers) as reply:
            await reply.read()
            run.record(reply.status, (time.perf_counter() - started) * 1000)
            if reply.status == 201:
                person.acknowledged.append(trial["index"])
        if think_s:
            await asyncio.sleep(think_s)


async def health_loop(session, base, run, stop_at) -> None:
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        async with session.get(f"{base}/healthz") as reply:
            await reply.read()
            run.record(reply.status, (time.perf_counter() - started) * 1000)


async def scenario(base, name, people, duration, think_s=0.0, health_clients=0) -> Run:
    run = Run(name)
    connector = aiohttp.TCPConnector(limit=max(len(people), health_clients) + 10)
    jar = aiohttp.CookieJar(unsafe=True)  # accept cookies from 127.0.0.1
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as session:
        async with session.get(
            f"{base}/p/{people[0].token}/" if people else f"{base}/healthz"
        ) as page:
            await page.read()
        csrf = session.cookie_jar.filter_cookies(yarl.URL(base)).get("csrftoken")
        csrf = csrf.value if csrf else ""
        started, cpu_started = time.perf_counter(), time.process_time()
        server_started = cpu_by_process()
        stop_at = started + duration
        rng = random.Random(0)
        if health_clients:
            tasks = [health_loop(session, base, run, stop_at) for _ in range(health_clients)]
        else:
            tasks = [
                participant_loop(
                    session, base, csrf, p, run, stop_at, think_s, random.Random(rng.random())
                )
                for p in people
            ]
        await asyncio.gather(*tasks)
        run.seconds = time.perf_counter() - started
        run.client_cpu = (time.process_time() - cpu_started) / run.seconds
        run.server_cpu = {
            name: seconds - server_started[name] for name, seconds in cpu_by_process().items()
        }
    return run


def verify(people: list[Simulated]) -> str:
    from studyapp.models import Response

    acknowledged = {(p.token, i) for p in people for i in p.acknowledged}
    stored = list(
        Response.objects.filter(trial__participant__study__slug="bench-api").values_list(
            "trial__participant__token", "trial__index"
        )
    )
    duplicates = len(stored) - len(set(stored))
    lost = len(acknowledged - set(stored))
    unacknowledged = len(set(stored) - acknowledged)
    return (
        f"acknowledged {len(acknowledged)}, stored {len(stored)}: lost {lost}, "
        f"duplicated {duplicates}, stored without acknowledgement {unacknowledged}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--scenario", choices=["responses", "burst"], default="responses")
    parser.add_argument("--starts", type=int, default=500)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--faces", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--pool-size", type=int, default=50, help="plans computed ahead")
    parser.add_argument(
        "--serialised-ref", default=SERIALISED_REF, help="'' runs the current code only"
    )
    args = parser.parse_args()
    setup_django()
    if args.scenario == "burst":
        run_bursts(args)
        return
    people = prepare_participants(500, trials_each=int(args.duration * 12) + 50)
    server, base = start_gunicorn(workers=args.workers, threads=args.threads)
    try:
        print(f"gunicorn: {args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs")
        baseline = asyncio.run(
            scenario(
                base, "baseline GET /healthz, 50 clients", [], args.duration, health_clients=50
            )
        )
        runs = [
            asyncio.run(
                scenario(base, "saturation: 50 participants, no pause", people[:50], args.duration)
            ),
            asyncio.run(
                scenario(
                    base,
                    "paced: 50 participants, 100 ms think time",
                    people[50:100],
                    args.duration,
                    think_s=0.1,
                )
            ),
            asyncio.run(
                scenario(
                    base,
                    "paced: 200 participants, 500 ms think time",
                    people[100:300],
                    args.duration,
                    think_s=0.5,
                )
            ),
            asyncio.run(
                scenario(
                    base,
                    "paced: 200 participants, 600 ms think time",
                    people[300:500],
                    args.duration,
                    think_s=0.6,
                )
            ),
        ]
    finally:
        server.terminate()
        server.wait()
    print(baseline.line())
    for run in runs:
        print(run.line(baseline))
    print(verify(people))


if __name__ == "__main__":
    main()
