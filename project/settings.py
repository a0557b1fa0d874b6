"""Settings of the demo/deployment site that hosts videogen.

Every environment variable the site understands is read here and only here; videogen itself
reads nothing but the ``VIDEOGEN`` dict built below (see README, "Configuration").

A variable missing from the environment is looked up in the env file ``make run`` writes
(``.run/env``), so a ``manage.py`` command in another terminal talks to the same simulator,
callback URL and database as the running demo. The environment always wins.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Where `make run` keeps its dev secrets and its env file (git-ignored).
RUN_DIR = Path(os.environ.get("DJANGO_RUN_DIR") or BASE_DIR / ".run")


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (blank lines and ``#`` comments skipped); ``{}`` without a file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value
    return values


# The configuration of a running `make run`. The test suite never reads it (pytest sets
# PYTEST_VERSION): a developer's demo must not change what the tests see.
RUN_ENV = {} if os.environ.get("PYTEST_VERSION") else read_env_file(RUN_DIR / "env")


def env(name: str, default: str | None = None) -> str | None:
    """The environment variable ``name``, else `make run`'s value for it, else ``default``."""
    value = os.environ.get(name)
    if value is None:
        value = RUN_ENV.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in (env(name) or "").split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
# Required in production, and the same in web and qcluster processes: django-q2 signs tasks
# with it. In development, the key `make run` keeps in .run/ (so shell commands and the
# qcluster agree), else a random one per process.
SECRET_KEY = env("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is false.")
    _dev_key = RUN_DIR / "django-secret-key"
    SECRET_KEY = _dev_key.read_text().strip() if _dev_key.exists() else secrets.token_urlsafe(50)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "testserver",
]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "videogen",
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

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

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

# SQLite by default; DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/videogen) to scale out.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: with 0 every request opens one, about 5 ms of PostgreSQL's
        # CPU (docs/benchmarks.md, Webhooks), more than a webhook's own statements.
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (site, qcluster, shell commands) write to one file. SQLite fails a
    # transaction that read and then wants to write while another process writes ("database
    # is locked", at once, whatever the timeout); IMMEDIATE takes the write lock when the
    # transaction starts, so it waits its turn (up to `timeout` seconds) instead. WAL lets
    # pages read while the qcluster writes. See docs/decisions.md, "The demo site".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=20,
        init_command="PRAGMA journal_mode=WAL",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The demo site's own stylesheet (static/site/); videogen's come with the app.
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
    if not DEBUG
    else {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The site's own login (templates/registration/): members who are not staff sign in here; the
# admin's login refuses them. `/` and a successful login lead to the member's workspaces.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "videogen:workspaces"

# videogen's API takes JSON bodies up to 45 MiB (services.validation.MAX_REQUEST_BYTES), so a
# request can carry data: media of up to 10 MiB each; Django's default stops bodies at 2.5 MiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 45 * 2**20

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with WWW-Authenticate (not 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per user, for the whole videogen API (videogen.api.throttling).
    "DEFAULT_THROTTLE_RATES": {
        "videogen": env("VIDEOGEN_API_THROTTLE_RATE", "600/minute"),
    },
}
# videogen's schema view carries its own settings; these serve the docs page offline.
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- django-q2: the ORM broker by default, Redis when REDIS_URL is set --------------------
REDIS_URL = env("REDIS_URL")
Q_CLUSTER = {
    "name": env("Q_CLUSTER_NAME", "videogen"),
    "workers": int(env("Q_WORKERS", "2")),
    # Seconds a task may run before its worker is killed. videogen's output downloads carry
    # their own, sized for large files (OUTPUT_FETCH_TIMEOUT_SECONDS + READ_TIMEOUT: 940 s).
    "timeout": 300,
    # Seconds before the ORM broker gives an unacknowledged task to another worker: longer
    # than the longest task (that download), or a running task is started a second time.
    "retry": 1000,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- videogen ------------------------------------------------------------------------------
# With no OPENROUTER_API_KEY the app talks to the local simulator (make run starts it).
OPENROUTER_API_KEY = env("OPENROUTER_API_KEY")
SIMULATOR_URL = env("VIDEOGEN_SIMULATOR_URL", "http://127.0.0.1:8001/api/v1")
USE_SIMULATOR = not OPENROUTER_API_KEY

VIDEOGEN = {
    "API_KEY": OPENROUTER_API_KEY or env("VIDEOGEN_SIMULATOR_API_KEY", "sk-or-simulator"),
    "BASE_URL": env("OPENROUTER_BASE_URL")
    or (SIMULATOR_URL if USE_SIMULATOR else "https://openrouter.ai/api/v1"),
    "SIMULATOR": USE_SIMULATOR,
    "WEBHOOK_SECRETS": env_list("VIDEOGEN_WEBHOOK_SECRETS"),
    "CALLBACK_URL": env("VIDEOGEN_CALLBACK_URL") or None,
    "APP_URL": env("VIDEOGEN_APP_URL") or None,
    "APP_TITLE": env("VIDEOGEN_APP_TITLE") or None,
}

# Any other VIDEOGEN key, as JSON (benchmarks, the scale-out test, one-off tuning):
# VIDEOGEN_OVERRIDES='{"POLL_CONCURRENCY": 64}'.
VIDEOGEN.update(json.loads(env("VIDEOGEN_OVERRIDES") or "{}"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "videogen": {
            "handlers": ["console"],
            "level": env("VIDEOGEN_LOG_LEVEL", "INFO"),
        },
    },
}
