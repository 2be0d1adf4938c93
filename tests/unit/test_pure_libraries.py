"""The compute and analysis libraries must be usable without Django (see DESIGN.md)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["modelsvc", "analysis", "facegen"])
def test_package_imports_without_django(package):
    code = f"import sys, pkgutil, importlib, {package}\n" + (
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "assert 'django' not in sys.modules, sorted(k for k in sys.modules if 'django' in k)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
