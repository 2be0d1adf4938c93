"""Web workers start without PyTorch: only the model pages import it, when first served."""

import os
import subprocess
import sys


def test_the_web_application_and_its_urls_import_without_torch():
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "import config.wsgi, config.urls\n"
        "heavy = sorted(m for m in ('torch', 'torchvision', 'zennit') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
