# ---- appended by tests/host_site/run.sh to the settings `django-admin startproject` made ----
# What the README's "Plugging videogen into an existing site" says to add:
import os

INSTALLED_APPS += [  # noqa: F821
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "videogen",
]
Q_CLUSTER = {
    "name": "hostsite",
    "orm": "default",
    "workers": 2,
    "timeout": 300,
    "retry": 1000,
    "max_attempts": 1,
    "catch_up": False,
}
VIDEOGEN = {
    "API_KEY": "sk-or-simulator",
    "BASE_URL": os.environ["HOST_SIMULATOR_URL"],
    "SIMULATOR": True,
    "WEBHOOK_SECRETS": [os.environ["HOST_WEBHOOK_SECRET"]],
    "CALLBACK_URL": os.environ["HOST_SITE_URL"] + "/videogen/webhooks/openrouter/",
    "POLL_INITIAL_DELAY_SECONDS": 2,
}
MEDIA_ROOT = BASE_DIR / "media"  # noqa: F821
DATA_UPLOAD_MAX_MEMORY_SIZE = 45 * 2**20
DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}  # noqa: F821

# What this host uses besides (and videogen must live with):
MIDDLEWARE += ["django.contrib.auth.middleware.LoginRequiredMiddleware"]  # noqa: F821
DATABASES["default"]["ATOMIC_REQUESTS"] = True  # noqa: F821
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
