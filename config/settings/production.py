"""Production: every secret from the environment, HTTPS-only cookies and headers."""

from config.keys import require_strong_key

from .base import *  # noqa: F403
from .base import PSEUDONYM_KEY, env

# The pseudonym key is the only thing between a pseudonym and a guessable external id.
require_strong_key("FACESIM_PSEUDONYM_KEY", PSEUDONYM_KEY)

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    **STORAGES,  # noqa: F405 (private default, public stimuli: see base.py)
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
