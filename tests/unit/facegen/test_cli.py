"""`python -m facegen`: writes a dataset and reports it; bad arguments exit with a usage error."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "facegen", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_the_dataset_and_says_so(tmp_path):
    out = tmp_path / "faces"
    result = _run(
        str(out), "--identities", "4", "--per-identity", "2", "--size", "32", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote 8 face images (4 identities x 2 views, 32x32 px, seed 1)" in result.stdout
    assert str(out) in result.stdout
    assert len(list((out / "images").glob("*.png"))) == 8
    assert len(list((out / "masks").glob("*.png"))) == 8
    assert (out / "metadata.csv").read_text().splitlines()[0] == "filename,identity,gender,glasses"
    assert (out / "parts.json").exists()
    assert (out / "params.json").exists()


def test_cli_reports_invalid_arguments(tmp_path):
    result = _run(str(tmp_path / "faces"), "--identities", "1")
    assert result.returncode == 2
    assert (
        "The 'n_identities' parameter of make_dataset must be an int in [2, 10000]; got 1"
        in result.stderr
    )
    assert not (tmp_path / "faces").exists()
