"""The compute and analysis libraries must be usable without Django (README, "What is here"),
and the web app never imports the Celery tasks: it sends them by name (`services/dispatch.py`)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["modelsvc", "analysis", "facegen", "objectgen"])
def test_package_imports_without_django(package):
    code = f"import sys, pkgutil, importlib, {package}\n" + (
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "assert 'django' not in sys.modules, sorted(k for k in sys.modules if 'django' in k)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_modelsvc_loads_torch_only_when_a_name_needs_it():
    """`modelsvc` imports its names on first use, so the web process can read stored arrays
    (`modelsvc.artifacts`) and specs without PyTorch; no public name may be a submodule name
    (the submodule would hide the function)."""
    code = (
        "import sys, pkgutil, modelsvc, modelsvc.artifacts, modelsvc.spec\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
        "names = {m.name for m in pkgutil.iter_modules(modelsvc.__path__)}\n"
        "assert not names & set(modelsvc.__all__), names & set(modelsvc.__all__)\n"
        "for name in modelsvc.__all__:\n"
        "    assert not isinstance(getattr(modelsvc, name), type(sys)), name\n"
        "assert 'torch' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def imports_of_tasks(source: str) -> list[int]:
    """Lines of ``source`` that import the ``tasks`` package (also inside functions, and by
    ``importlib.import_module("tasks...")``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
        else:
            continue
        if any(name == "tasks" or str(name).startswith("tasks.") for name in names):
            lines.append(node.lineno)
    return lines


def test_the_import_check_finds_every_form_of_importing_tasks():
    source = (
        "import os, tasks.jobs\n"
        "from tasks import jobs\n"
        "def f():\n    from tasks.model_cache import model_spec\n"
        "importlib.import_module('tasks.items')\n"
        "import tasksuite\nfrom . import tasks\nfrom studyapp import tasks_x\n"
    )
    assert imports_of_tasks(source) == [1, 2, 4, 5]


def test_studyapp_never_imports_tasks():
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "studyapp").rglob("*.py"))
        if (lines := imports_of_tasks(path.read_text()))
    }
    assert found == {}, f"studyapp must send tasks by name, not import them: {found}"
