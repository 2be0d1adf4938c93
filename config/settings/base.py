"""Settings shared by every environment; every value can be set by an environment variable.

The README's configuration table lists each variable with its default. Production-only
hardening lives in ``production.py``; ``local.py`` and ``test.py`` only fill in safe
development defaults.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "studyapp.views.errors.csrf_failure"  # JSON errors under /api/

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/facesim"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A kept connection is checked (one round trip) before a request reuses it, so after a database
# restart the request reconnects instead of failing with a 503.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
# Server-side parameter binding lets psycopg prepare statements a connection runs often, so
# PostgreSQL stops planning the participant API's queries again for every request.
# (Behind a transaction-mode connection pooler such as PgBouncer < 1.21, set
# DATABASE_PREPARE_THRESHOLD to an empty value to turn this off.)
DATABASES["default"]["ENGINE"] = "config.postgresql"  # batches to PostgreSQL's parameter limit
DATABASES["default"]["OPTIONS"] = {
    "server_side_binding": True,
    "prepare_threshold": env.int("DATABASE_PREPARE_THRESHOLD", default=5) or None,
    # A database host that drops packets fails a request after this long, not after TCP's
    # two minutes; the request then answers 503 (``studyapp.views.errors.server_error``).
    "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
}
# A participant request still running after this many seconds loses its database connection
# (a frozen PostgreSQL; studyapp.database_deadline) and answers 503; 0 turns the limit off.
FACESIM_REQUEST_DATABASE_DEADLINE_S = env.float("FACESIM_REQUEST_DATABASE_DEADLINE_S", default=10)
# Any single round trip to the database (a query, fetch, commit or health check) still waiting
# after this many seconds, in any process, loses its connection the same way; 0: no limit.
FACESIM_DATABASE_WAIT_LIMIT_S = env.float("FACESIM_DATABASE_WAIT_LIMIT_S", default=60)
FACESIM_REQUEST_DATABASE_CHECK_S = env.float("FACESIM_REQUEST_DATABASE_CHECK_S", default=1)
# Retry-After (seconds) of the 503 that requests get while the database cannot be reached.
FACESIM_DATABASE_RETRY_AFTER_S = env.int("FACESIM_DATABASE_RETRY_AFTER_S", default=5)
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
    "studyapp.database_deadline.DatabaseDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "studyapp.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Only this site's scripts, styles and images (plus data:/blob: images): no inline scripts or
# style attributes, no third-party content (e.g. an image in a study's consent Markdown).
CONTENT_SECURITY_POLICY = env(
    "DJANGO_CONTENT_SECURITY_POLICY",
    default="default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)

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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "research-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Files (see README, "Security model" and "Storage on several hosts"). MEDIA_ROOT holds only
# the stimulus images studies show (served at MEDIA_URL by a view that checks a live study, or
# a role, uses the image); everything else (artifacts, reports, job outputs, weights, part
# masks) lies in PRIVATE_ROOT, which no URL maps to. Keep the two folders apart.
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
PRIVATE_ROOT = env.path("DJANGO_PRIVATE_ROOT", default=BASE_DIR / "private")
STORAGES = {
    "default": {"BACKEND": "studyapp.storage.PrivateFileSystemStorage"},
    "stimuli": {"BACKEND": "studyapp.storage.StimulusFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# How permission-checked views send a file: "django" (stream it), "x-accel-redirect" (nginx
# sends FILES_INTERNAL_URL + "private/" or "public/" + the name from an internal location),
# "x-sendfile" (Apache/lighttpd send the file's path) or "redirect" (to the storage's URL: an
# object store's signed, short-lived URL, e.g. django-storages S3 with querystring_auth).
FILES_SERVE_MODES = ("django", "x-accel-redirect", "x-sendfile", "redirect")
FILES_SERVE_MODE = env.str("FACESIM_FILES_SERVE_MODE", default="django")
if FILES_SERVE_MODE not in FILES_SERVE_MODES:
    raise ImproperlyConfigured(
        f"FACESIM_FILES_SERVE_MODE must be one of {FILES_SERVE_MODES}; got {FILES_SERVE_MODE!r}."
    )
FILES_INTERNAL_URL = env.str("FACESIM_FILES_INTERNAL_URL", default="/internal/")

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
# A browser import sends up to STIMULUS_MAX_FILES images plus an archive and a metadata file;
# its body is bounded by STIMULUS_MAX_UPLOAD_BYTES (checked before it is read).
DATA_UPLOAD_MAX_NUMBER_FILES = STIMULUS_MAX_FILES + 2
# Largest attached participant-attribute file (Prolific's demographic export).
ATTRIBUTES_MAX_BYTES = env.int("FACESIM_ATTRIBUTES_MAX_BYTES", default=5 * 1024 * 1024)
# Participant API: largest accepted JSON body, and the longest plausible reaction time.
PARTICIPANT_MAX_BODY_BYTES = env.int("FACESIM_PARTICIPANT_MAX_BODY_BYTES", default=16 * 1024)
PARTICIPANT_MAX_RT_MS = env.int("FACESIM_PARTICIPANT_MAX_RT_MS", default=30 * 60 * 1000)
# A response's `responded_at` must lie within this many hours of the server's clock.
PARTICIPANT_CLOCK_WINDOW_HOURS = env.int("FACESIM_PARTICIPANT_CLOCK_WINDOW_HOURS", default=24)
# A started session with no activity for this long no longer holds its planned trials.
PARTICIPANT_SESSION_TIMEOUT_MINUTES = env.int("FACESIM_SESSION_TIMEOUT_MINUTES", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"timed": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "timed"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- Celery (see README, "Workers") --------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None  # job state lives in PostgreSQL (Job, JobBatch)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ACKS_LATE = True  # a task is acknowledged after it ran, so a dead worker's
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # task is delivered again
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=30 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=35 * 60)
# Redis redelivers an unacknowledged task (its worker died) once it is older than
# ``visibility_timeout``, which must exceed the longest task (the hard limit above), and the
# workers look for such tasks every ``unacked_restore_interval`` seconds (throttle 1: every
# sweep scans). RabbitMQ instead redelivers as soon as the dead worker's connection drops.
# A send gives up quickly when the broker is unreachable or frozen (the job stays saved and the
# requeue sweep sends it when the broker is back): connect and socket timeouts, one quick retry.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
FACESIM_BROKER_SOCKET_TIMEOUT = env.float("FACESIM_BROKER_SOCKET_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": FACESIM_BROKER_SOCKET_TIMEOUT,  # Redis: a frozen broker
}
FACESIM_BROKER_SEND_RETRY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The requeue sweep (studyapp.services.dispatch): every worker runs it this often (0: never);
# a message not run this long after it was sent, and not in the broker's queue, is sent again.
FACESIM_REQUEUE_INTERVAL_S = env.int("FACESIM_REQUEUE_INTERVAL_S", default=60)
FACESIM_REQUEUE_AFTER_S = env.int("FACESIM_REQUEUE_AFTER_S", default=120)
# A running message's run mark (``studyapp.services.run_marks``) checks its connection this often
# and, after a database restart, takes the mark again.
FACESIM_RUN_MARK_CHECK_S = env.float("FACESIM_RUN_MARK_CHECK_S", default=2.0)
# Plans computed ahead per live study (``studyapp.services.plan_pool``; 0: every start plans
# for itself). A start that takes one does no planning; a worker tops the pool up at half.
FACESIM_PLAN_POOL_SIZE = env.int("FACESIM_PLAN_POOL_SIZE", default=50)
# Starts of one batch (redeliveries, re-sends, transient-error retries) before its job fails.
FACESIM_BATCH_MAX_ATTEMPTS = env.int("FACESIM_BATCH_MAX_ATTEMPTS", default=10)
# Threads of one report job's analysis (analyse_study's n_jobs; the same result for any value):
# at most the cores the worker may use, 2 by default; with several cpu tasks at once on a
# host, cores / the worker's --concurrency, so the analyses do not oversubscribe the cores.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
FACESIM_ANALYSIS_THREADS = env.int("FACESIM_ANALYSIS_THREADS", default=min(2, _CORES or 1))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Compute jobs: stimuli per batch (one sub-task), and where model weights may be read from.
FACESIM_JOB_BATCH_SIZE = env.int("FACESIM_JOB_BATCH_SIZE", default=32)
# Images per model call (every call padded to it): also the step of a job's progress bar.
FACESIM_MODEL_CALL_SIZE = env.int("FACESIM_MODEL_CALL_SIZE", default=8)
# The site's address (e.g. https://faces.example.org): reports link back to their dashboard
# with it, so the link also works in a downloaded report; empty: a site-relative link.
FACESIM_SITE_URL = env("FACESIM_SITE_URL", default="")
FACESIM_WEIGHTS_DIRS = env.list("FACESIM_WEIGHTS_DIRS", default=[])
FACESIM_MAX_WEIGHTS_UPLOAD_BYTES = env.int(
    "FACESIM_MAX_WEIGHTS_UPLOAD_BYTES", default=2 * 1024 * 1024 * 1024
)

# Redis for the cache and the rate limits. Participant requests never wait on it longer than
# the timeout: when it is down or frozen, rate limits are skipped (and a warning logged).
FACESIM_REDIS_URL = env("FACESIM_REDIS_URL", default="redis://127.0.0.1:6379/1")
FACESIM_REDIS_TIMEOUT_SECONDS = env.float("FACESIM_REDIS_TIMEOUT_SECONDS", default=0.25)
# After Redis failed, rate limits stay off this long (per process) before it is tried again.
FACESIM_REDIS_RETRY_SECONDS = env.float("FACESIM_REDIS_RETRY_SECONDS", default=5.0)


def redis_cache(location: str) -> dict:
    """The cache on ``location``, with the same short connect and read timeouts."""
    timeout = FACESIM_REDIS_TIMEOUT_SECONDS
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": location,
        "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
    }


CACHES = {"default": redis_cache(FACESIM_REDIS_URL)}
# Rate limits per minute: participant API calls per session, start/consent requests per address.
FACESIM_RATE_API_PER_MINUTE = env.int("FACESIM_RATE_API_PER_MINUTE", default=600)
FACESIM_RATE_START_PER_MINUTE = env.int("FACESIM_RATE_START_PER_MINUTE", default=120)
# Behind a reverse proxy that sets X-Forwarded-For, count clients by that header.
FACESIM_TRUST_X_FORWARDED_FOR = env.bool("FACESIM_TRUST_X_FORWARDED_FOR", default=False)
