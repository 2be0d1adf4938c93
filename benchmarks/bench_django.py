"""Shared set-up for benchmarks that need the platform: a separate database and Django.

The benchmark database is ``facesim_bench`` (or ``FACESIM_BENCH_DATABASE_URL``) so benchmark
data never mixes with a demo or development database.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, for the benchmark scripts
BENCH_DATABASE_URL = os.environ.get(
    "FACESIM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/facesim_bench"
)


def bench_environment() -> dict[str, str]:
    """Environment for this process and the servers it starts (debug off: no query log)."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "DJANGO_MEDIA_ROOT": os.environ.get("DJANGO_MEDIA_ROOT")
        or tempfile.mkdtemp(prefix="facesim-bench-media-"),
        "DJANGO_PRIVATE_ROOT": os.environ.get("DJANGO_PRIVATE_ROOT")
        or tempfile.mkdtemp(prefix="facesim-bench-private-"),
        "DJANGO_LOG_LEVEL": "WARNING",
    }


def setup_django() -> None:
    """Point Django at the benchmark database, create and migrate it."""
    os.environ.update(bench_environment())
    import django
    from django.core.management import call_command

    django.setup()
    call_command("ensure_database")
    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    *, workers: int, threads: int, root: Path = ROOT
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving the platform (the code in ``root``) on a free port; returns
    (process, base URL)."""
    port = free_port()
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    process = subprocess.Popen(command, cwd=root, env={**os.environ, **bench_environment()})
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def cpu_by_process(names=("gunicorn", "postgres", "redis-server")) -> dict[str, float]:
    """CPU seconds used so far by all processes with these names (Linux): user + system time,
    plus that of their ended children (PostgreSQL backends, restarted gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name in totals:
            fields = text[text.rindex(")") + 2 :].split()
            totals[name] += sum(int(f) for f in fields[11:15]) / tick
    return totals
