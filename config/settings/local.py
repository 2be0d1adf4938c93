"""Development on one machine: debug on, and development-only keys when none are set."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key")
os.environ.setdefault("FACESIM_PSEUDONYM_KEY", "dev-only-pseudonym-key")

from .base import *  # noqa: F403
