"""The pure libraries install as a package, so scripts outside the checkout can import them.

The install goes into a temporary folder (``pip install --target``), never into the shared
virtual environment; ``bin/setup`` installs the same project editable into ``.venv``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("analysis", "modelsvc", "facegen", "objectgen")

SCRIPT = """
import sys
import analysis, facegen, modelsvc, objectgen
import analysis.report  # a subpackage
from modelsvc.relevance import explain  # noqa: F401
from importlib.resources import files
assert files("analysis.report").joinpath("templates/report.html.j2").is_file()
print("\\n".join(m.__file__ for m in (analysis, modelsvc, facegen, objectgen)))
"""


@pytest.mark.slow
def test_a_script_outside_the_checkout_imports_the_installed_libraries(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in LIBRARIES:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    install = subprocess.run(
        [*pip, "--no-index", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "script.py").write_text(SCRIPT, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "script.py"],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    for path, package in zip(run.stdout.split(), LIBRARIES, strict=True):
        assert Path(path) == site / package / "__init__.py"
