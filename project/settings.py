"""Settings of the demo/deployment site that hosts videogen.

Every environment variable the site understands is read here and only here; videogen itself
reads nothing but the ``VIDEOGEN`` dict built below (see README, "Configuration").
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
# Required in production, and the same in web and qcluster processes: django-q2 signs tasks
# with it. In development, the key `make run` keeps in .run/ (so shell commands and the
# qcluster agree), else a random one per process.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is false.")
    _dev_key = BASE_DIR / ".run" / "django-secret-key"
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
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: django-q2's ORM broker closes "old" connections on every
        # enqueue, which with 0 means reconnecting in the middle of a request.
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (site, qcluster) share the file: wait for locks instead of failing,
    # and take the write lock when a transaction starts (a read that later upgrades to a
    # write cannot wait for the lock and fails at once with "database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
    if not DEBUG
    else {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "admin:login"

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
        "videogen": os.environ.get("VIDEOGEN_API_THROTTLE_RATE", "600/minute"),
    },
}
# videogen's schema view carries its own settings; these serve the docs page offline.
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- django-q2: the ORM broker by default, Redis when REDIS_URL is set --------------------
REDIS_URL = os.environ.get("REDIS_URL")
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "videogen"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 300,
    "retry": 360,
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
OPENROUTER_API_KEY = os.environ.get("OPENROUTER_API_KEY")
SIMULATOR_URL = os.environ.get("VIDEOGEN_SIMULATOR_URL", "http://127.0.0.1:8001/api/v1")
USE_SIMULATOR = not OPENROUTER_API_KEY

VIDEOGEN = {
    "API_KEY": OPENROUTER_API_KEY
    or os.environ.get("VIDEOGEN_SIMULATOR_API_KEY", "sk-or-simulator"),
    "BASE_URL": os.environ.get("OPENROUTER_BASE_URL")
    or (SIMULATOR_URL if USE_SIMULATOR else "https://openrouter.ai/api/v1"),
    "SIMULATOR": USE_SIMULATOR,
    "WEBHOOK_SECRETS": env_list("VIDEOGEN_WEBHOOK_SECRETS"),
    "CALLBACK_URL": os.environ.get("VIDEOGEN_CALLBACK_URL") or None,
    "APP_URL": os.environ.get("VIDEOGEN_APP_URL") or None,
    "APP_TITLE": os.environ.get("VIDEOGEN_APP_TITLE") or None,
}

# Any other VIDEOGEN key, as JSON (benchmarks, the scale-out test, one-off tuning):
# VIDEOGEN_OVERRIDES='{"POLL_CONCURRENCY": 64}'.
VIDEOGEN.update(json.loads(os.environ.get("VIDEOGEN_OVERRIDES") or "{}"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "videogen": {
            "handlers": ["console"],
            "level": os.environ.get("VIDEOGEN_LOG_LEVEL", "INFO"),
        },
    },
}
