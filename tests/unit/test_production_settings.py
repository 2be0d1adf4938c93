"""Production settings: `check --deploy` is clean, and there is no default secret."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.keys import require_strong_key

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3Xq9-vT2mLp_8RwZc4NfYb7HsJd0AeU1GiKoQx5Wn6"  # 43 urlsafe characters, as made
# by secrets.token_urlsafe(32)


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
        FACESIM_PSEUDONYM_KEY=STRONG_KEY,
        DJANGO_ALLOWED_HOSTS="facesim.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    "weak",
    [
        "production-pseudonym-key",  # 24 bytes
        "x" * 64,  # one character
        "0123456789abcdef" * 4,  # a repeated block
        "correct horse battery staple correct horse",  # little entropy per character
        "2c21027f55fb0873ad40e51c9d4f6b1a",  # 16 random bytes as hex
    ],
)
def test_production_refuses_a_weak_pseudonym_key(weak):
    result = run_manage(
        "check",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-0123456789",
        FACESIM_PSEUDONYM_KEY=weak,
        DJANGO_ALLOWED_HOSTS="facesim.example.org",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: FACESIM_PSEUDONYM_KEY must be at least 32 random bytes" in (
        result.stderr
    )
    assert weak not in result.stderr  # the message never echoes the key


def test_random_keys_pass_the_strength_check():
    for _ in range(2000):
        for key in (secrets.token_urlsafe(32), secrets.token_hex(32)):
            assert require_strong_key("K", key) == key
