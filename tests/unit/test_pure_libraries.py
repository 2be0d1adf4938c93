"""The compute and analysis libraries must be usable without Django (see DESIGN.md)."""

import subprocess
import sys

import pytest


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
