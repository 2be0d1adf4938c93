"""Streaming CSV export of 1,000,000 responses: rows/s and the serving process's peak memory.

    .venv/bin/python benchmarks/export.py [--rows 1000000]

In one run: the responses are generated in PostgreSQL; then
- baseline: ``COPY studyapp_response TO STDOUT`` (the bare table, no joins), read by psycopg;
- export: ``GET /research/studies/<slug>/responses.csv`` from gunicorn (one worker), read over
  HTTP, with the worker's peak resident memory (VmHWM) before and after;
- for comparison, the same columns written by Python's csv module from a Django
  ``.values_list().iterator()`` query, on the first 100,000 rows.
Targets (issue 2): >= 200,000 rows/s and peak memory < 200 MB.
"""

import argparse
import csv
import io
import time
import urllib.request
from pathlib import Path

from bench_django import cpu_by_process, setup_django, start_gunicorn

PARTICIPANTS_TRIALS = 200


def generate(rows: int) -> str:
    """A study with ``rows`` answered triplet trials, made by SQL; returns the study's slug."""
    from django.db import connection

    from studyapp.models import Study
    from tests.factories import make_stimulus_set, make_study

    Study.objects.filter(slug="bench-export").delete()
    study = make_study(
        make_stimulus_set(24, name=f"bench-export-{time.time():.0f}"),
        slug="bench-export",
        target_participants=10**6,
    )
    ids = list(study.stimulus_set.stimuli.values_list("pk", flat=True))
    participants = rows // PARTICIPANTS_TRIALS
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO studyapp_participant (study_id, token, pseudonym, source,
                external_study_hash, external_session_hash, status, plan_seed, client_info,
                excluded, exclusion_reason, started_at, last_seen_at, completed_at)
            SELECT %s, 'bench-' || g, md5(g::text) || md5((g + 1)::text), 'prolific', '', '',
                   'completed', g, '{}', false, '', now(), now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [study.pk, participants],
        )
        cursor.execute(
            """
            INSERT INTO studyapp_trial (participant_id, index, block, trial_type, role, items)
            SELECT p.id, t, 0, 'triplet', 'main',
                   ARRAY[(%s::bigint[])[1 + (t %% 24)], (%s::bigint[])[1 + ((t + 7) %% 24)],
                         (%s::bigint[])[1 + ((t + 13) %% 24)]]
            FROM studyapp_participant p, generate_series(0, %s) AS t
            WHERE p.study_id = %s
            """,
            [ids, ids, ids, PARTICIPANTS_TRIALS - 1, study.pk],
        )
        cursor.execute(
            """
            INSERT INTO studyapp_response (trial_id, choice, rt_ms, received_at, responded_at)
            SELECT t.id, t.items[1 + (t.id %% 3)], 300 + (t.id %% 2000), now(), now()
            FROM studyapp_trial t JOIN studyapp_participant p ON p.id = t.participant_id
            WHERE p.study_id = %s
            """,
            [study.pk],
        )
        # a table in steady state: the previous run's rows vacuumed away and hint bits set, so
        # autovacuum does not compete with the export (PostgreSQL used 7.8 CPU-seconds during
        # an export without this, 5.6 with it)
        cursor.execute("VACUUM (ANALYZE) studyapp_participant, studyapp_trial, studyapp_response")
    return study.slug


def baseline_copy(slug: str) -> tuple[int, float]:
    from django.db import connection

    connection.ensure_connection()
    started = time.perf_counter()
    rows = 0
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(
            "COPY (SELECT r.* FROM studyapp_response r JOIN studyapp_trial t ON t.id = r.trial_id "
            "JOIN studyapp_participant p ON p.id = t.participant_id JOIN studyapp_study s "
            f"ON s.id = p.study_id WHERE s.slug = '{slug}') TO STDOUT WITH (FORMAT csv)"
        ) as copy,
    ):
        for chunk in copy:
            rows += bytes(chunk).count(b"\n")
    return rows, time.perf_counter() - started


def viewer_cookie(slug: str) -> str:
    """A logged-in session of a researcher with the viewer role on the study."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from studyapp.models import Study, StudyMembership

    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    StudyMembership.objects.get_or_create(
        study=Study.objects.get(slug=slug), user=user, defaults={"role": "viewer"}
    )
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0])


def http_export(base: str, slug: str, cookie: str) -> tuple[int, int, float]:
    request = urllib.request.Request(
        f"{base}/research/studies/{slug}/responses.csv", headers={"Cookie": cookie}
    )
    started = time.perf_counter()
    rows = size = 0
    with urllib.request.urlopen(request) as response:
        while chunk := response.read(1 << 20):
            rows += chunk.count(b"\n")
            size += len(chunk)
    return rows - 1, size, time.perf_counter() - started  # minus the header line


def orm_csv(slug: str, limit: int) -> tuple[int, float]:
    from studyapp.models import Response

    started = time.perf_counter()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    query = (
        Response.objects.filter(trial__participant__study__slug=slug)
        .order_by("trial__participant_id", "trial__index")
        .values_list(
            "trial__participant__pseudonym",
            "trial__index",
            "trial__trial_type",
            "trial__items",
            "choice",
            "rt_ms",
            "received_at",
        )[:limit]
    )
    rows = 0
    for row in query.iterator(chunk_size=5000):
        writer.writerow(row)
        rows += 1
        if buffer.tell() > 1 << 20:
            buffer.seek(0)
            buffer.truncate()
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    started = time.perf_counter()
    slug = generate(args.rows)
    print(f"generated {args.rows:,} responses in {time.perf_counter() - started:.1f} s")

    rows, seconds = baseline_copy(slug)
    base_rate = rows / seconds
    print(
        f"baseline COPY of the bare response rows: {rows:,} rows in {seconds:.2f} s "
        f"= {base_rate:,.0f} rows/s"
    )

    server, base = start_gunicorn(workers=1, threads=1)
    try:
        worker = worker_pid(server.pid)
        cookie = viewer_cookie(slug)
        before = peak_rss_mb(worker)
        cpu_before, client_before = cpu_by_process(), time.process_time()
        rows, size, seconds = http_export(base, slug, cookie)
        cpu = {k: v - cpu_before[k] for k, v in cpu_by_process().items()}
        cpu["client (this process)"] = time.process_time() - client_before
        after = peak_rss_mb(worker)
    finally:
        server.terminate()
        server.wait()
    rate = rows / seconds
    print(
        f"export over HTTP: {rows:,} rows, {size / 1e6:.0f} MB in {seconds:.2f} s = "
        f"{rate:,.0f} rows/s ({rate / base_rate:.2f}x the bare COPY); "
        f"worker peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )
    print("  CPU seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items())))

    limit = min(100_000, args.rows)
    rows, seconds = orm_csv(slug, limit)
    print(
        f"for comparison, ORM + csv.writer: {rows:,} rows in {seconds:.2f} s = "
        f"{rows / seconds:,.0f} rows/s (export is {rate / (rows / seconds):.1f}x faster)"
    )


if __name__ == "__main__":
    main()
