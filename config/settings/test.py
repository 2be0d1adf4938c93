"""Test runs: development keys, a fast password hasher, files under throw-away folders."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("FACESIM_PSEUDONYM_KEY", "test-only-pseudonym-key")
os.environ.setdefault("DJANGO_MEDIA_ROOT", tempfile.mkdtemp(prefix="facesim-test-media-"))
os.environ.setdefault("DJANGO_PRIVATE_ROOT", tempfile.mkdtemp(prefix="facesim-test-private-"))

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Static files come straight from static/ (no collectstatic needed outside production).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Tests use their own Redis database as the Celery broker, and short redelivery.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
FACESIM_REDIS_URL = os.environ.get("FACESIM_REDIS_URL", "redis://127.0.0.1:6379/13")
CACHES = {"default": redis_cache(FACESIM_REDIS_URL)}  # noqa: F405
