"""Web workers start without PyTorch, matplotlib, pandas or scipy: only the pages that need
them import them, when first served (a participant-only worker stays under 100 MB)."""

import os
import subprocess
import sys

HEAVY = ("torch", "torchvision", "zennit", "matplotlib", "pandas", "scipy", "analysis")


def test_the_web_application_and_its_urls_import_without_the_heavy_libraries():
    code = (
        f"import sys, django\nHEAVY = {HEAVY!r}\n"
        "django.setup()\n"
        "import config.wsgi, config.urls\n"
        "heavy = sorted(m for m in HEAVY if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
