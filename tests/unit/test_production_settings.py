"""Production settings: `check --deploy` is clean, and there is no default secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FACESIM_"))}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_deploy_check_is_clean():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-0123456789",
        FACESIM_PSEUDONYM_KEY="production-pseudonym-key",
        DJANGO_ALLOWED_HOSTS="facesim.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
