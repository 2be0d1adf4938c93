"""A real small filesystem for full-disk tests: a tmpfs mounted on a folder (needs root, as CI
and this machine's sessions have; the test is skipped where mounting fails)."""

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(folder: Path, size: str, options: str = ""):
    """Mount a tmpfs of ``size`` (e.g. "64k") on ``folder`` for the block's duration; ``options``
    adds mount options (e.g. "uid=105,mode=0700")."""
    folder.mkdir(parents=True, exist_ok=True)
    mount_options = ",".join(filter(None, [f"size={size}", options]))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", mount_options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path, leave: int = 1024) -> Path:
    """Write a file that leaves at most ``leave`` bytes (plus a page) free on the disk."""
    stats = os.statvfs(folder)
    filler = folder / "filler.bin"
    filler.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))
    return filler
