"""Development on one machine: debug on, and development-only keys when none are set."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key")
os.environ.setdefault("FACESIM_PSEUDONYM_KEY", "dev-only-pseudonym-key")

from .base import *  # noqa: F403

# Static files come straight from static/ (no collectstatic needed outside production).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
