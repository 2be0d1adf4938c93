"""A real Celery worker process for integration tests (Redis broker, the test database)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def private_root_beside(media_root: Path) -> Path:
    """The private file folder that goes with a test's public media folder."""
    return media_root.with_name(f"{media_root.name}-private")


def worker_environment(media_root: Path, **extra: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "DJANGO_MEDIA_ROOT": str(media_root),
        "DJANGO_PRIVATE_ROOT": str(private_root_beside(media_root)),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **extra,
    }


def purge_broker() -> None:
    """Drop every queued message (and unacknowledged bookkeeping) of the test broker."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


class Worker:
    """``celery -A config worker -Q gpu,cpu`` in its own process group; log in a file."""

    def __init__(self, environment: dict[str, str], log: Path, name: str = "test"):
        self.environment = environment
        self.log = log
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Worker":
        command = [
            str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "-Q", "gpu,cpu",
            "--concurrency", "1", "--pool", "prefork", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "INFO", "--hostname", f"{self.name}@%h",
        ]  # fmt: skip
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as if the machine died."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
