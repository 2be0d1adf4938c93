"""Settings shared by every environment; every value can be set by an environment variable.

The README's configuration table lists each variable with its default. Production-only
hardening lives in ``production.py``; ``local.py`` and ``test.py`` only fill in safe
development defaults.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/facesim"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "studyapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
# Serve MEDIA_URL from Django itself (single-host set-ups); a web server or object store takes
# over in larger deployments.
SERVE_MEDIA = env.bool("DJANGO_SERVE_MEDIA", default=True)

# Request bodies: participant JSON payloads are tiny; stimulus uploads are bounded per file.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- FaceSim Lab --------------------------------------------------------------------------
# Key for the keyed hash (HMAC-SHA256) that pseudonymises participants' external ids.
PSEUDONYM_KEY = env("FACESIM_PSEUDONYM_KEY")
# Stimulus validation limits (per image file and per upload).
STIMULUS_MAX_FILE_BYTES = env.int("FACESIM_STIMULUS_MAX_FILE_BYTES", default=10 * 1024 * 1024)
STIMULUS_MAX_PIXELS = env.int("FACESIM_STIMULUS_MAX_PIXELS", default=4096 * 4096)
STIMULUS_MAX_UPLOAD_BYTES = env.int("FACESIM_STIMULUS_MAX_UPLOAD_BYTES", default=500 * 1024 * 1024)
STIMULUS_MAX_FILES = env.int("FACESIM_STIMULUS_MAX_FILES", default=20_000)
# Participant API: largest accepted JSON body, and the longest plausible reaction time.
PARTICIPANT_MAX_BODY_BYTES = env.int("FACESIM_PARTICIPANT_MAX_BODY_BYTES", default=16 * 1024)
PARTICIPANT_MAX_RT_MS = env.int("FACESIM_PARTICIPANT_MAX_RT_MS", default=30 * 60 * 1000)
# A started session with no activity for this long no longer holds its planned trials.
PARTICIPANT_SESSION_TIMEOUT_MINUTES = env.int("FACESIM_SESSION_TIMEOUT_MINUTES", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
