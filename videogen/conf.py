"""The one place videogen reads settings.

Everything comes from a single ``VIDEOGEN`` dict in the host site's settings, merged over
``DEFAULTS``. Values are read lazily and the cache is dropped on ``setting_changed`` so
``override_settings(VIDEOGEN=...)`` works in tests. Never read these at import time.

Each key may have a ``Rule`` in ``RULES`` (type, minimum, choices, an optional
normalisation); the merged settings are checked against them when first read, on every
reload, and once when the app is ready, so a wrong type fails fast with the key named
(``ImproperlyConfigured``) instead of misbehaving at the first request. A key without a rule
accepts any value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # --- provider -------------------------------------------------------------------------
    # OpenRouter API key (Bearer). Required outside the simulator (system check videogen.E001).
    "API_KEY": None,
    # Base URL of the video API, without the trailing "/videos".
    "BASE_URL": "https://openrouter.ai/api/v1",
    # True when BASE_URL points at videogen's own simulator: relaxes the checks that only
    # matter against the real provider (API key, webhook secret, HTTPS callback URLs).
    "SIMULATOR": False,
    # Seconds to open a connection / to wait for a response byte.
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 30.0,
    # Connections kept per host by the client's session and by the sweep's polling loop
    # (match POLL_CONCURRENCY: fewer connections than polls in flight makes polls wait, or
    # on the blocking session open and throw away a connection for every poll beyond it).
    "HTTP_POOL_SIZE": 128,
    # Optional attribution headers OpenRouter shows on its dashboard.
    "APP_URL": None,
    "APP_TITLE": None,
    # --- webhooks -------------------------------------------------------------------------
    # Secrets that may sign webhooks; several at once while rotating (newest first).
    "WEBHOOK_SECRETS": [],
    # Reject signatures whose timestamp is further than this from now (either direction).
    "WEBHOOK_TOLERANCE_SECONDS": 300,
    # Accept webhooks without a signature. Never in production (system check videogen.W002).
    "WEBHOOK_ALLOW_UNSIGNED": False,
    # Largest webhook body accepted, in bytes (413 beyond).
    "WEBHOOK_MAX_BODY_BYTES": 1_048_576,
    # Poll the provider to confirm a webhook's claim before applying it.
    "WEBHOOK_CONFIRM_BY_POLLING": False,
    # Days WebhookDelivery rows are kept (videogen_prune_deliveries, run daily); None: forever.
    "WEBHOOK_RETENTION_DAYS": 30,
    # Days refused deliveries (bad signature, oversized) are kept; None: as long as the rest.
    "WEBHOOK_REFUSED_RETENTION_DAYS": 7,
    # Absolute URL the provider should call back, sent as callback_url when a job has none.
    "CALLBACK_URL": None,
    # --- submission and reconciliation ----------------------------------------------------
    # Retries of a submission that failed transiently (429, 5xx, timeout) before giving up.
    "SUBMIT_MAX_ATTEMPTS": 5,
    # django-q2 schedules have minute granularity: the reconcile task runs every N minutes
    # and keeps sweeping due jobs for RECONCILE_WINDOW_SECONDS, so polls are on time in between.
    "RECONCILE_EVERY_MINUTES": 1,
    "RECONCILE_WINDOW_SECONDS": 50,
    # Pause between sweeps in that window when nothing was due.
    "RECONCILE_IDLE_SECONDS": 1.0,
    # Most jobs one sweep claims (in growing parts as it polls, each part leased from its
    # own claim; no part is claimed once the window is over), and how many it polls at
    # once. Polls wait on the network, so throughput is about POLL_CONCURRENCY / provider
    # latency (bench/reconcile.py: 128 polls in flight on the event loop, 1,000-1,200 jobs/s
    # at 100 ms on 2 cores). Each sweep also pays about 0.1 s of its own (the steps before
    # the claim, the first claim, the last round's idle slots, the last reschedule): a
    # tenth of a 1,000-job sweep at that latency, a hundredth of a 10,000-job one.
    "RECONCILE_BATCH_SIZE": 10_000,
    # Poll answers that change their jobs are applied this many to a transaction (one
    # locking SELECT, one UPDATE, one event INSERT, one ledger INSERT, one enqueue).
    "RECONCILE_APPLY_BATCH_SIZE": 200,
    "POLL_CONCURRENCY": 128,
    # First poll delay after submission, and the backoff ceiling, in seconds.
    "POLL_INITIAL_DELAY_SECONDS": 5,
    "POLL_MAX_DELAY_SECONDS": 300,
    # How long a sweep holds its claim on a job (a crashed sweep's jobs free up after this).
    "POLL_LEASE_SECONDS": 120,
    # Consecutive 404 answers before a job is failed as "not found at provider".
    "NOT_FOUND_LIMIT": 3,
    # A job still not terminal this long after submission is failed as stuck.
    "JOB_DEADLINE_SECONDS": 6 * 3600,
    # A job left in submitting this long is flagged for staff (never re-sent blindly).
    "SUBMITTING_STALE_SECONDS": 600,
    # A queued job untouched this long is re-enqueued (its task was lost).
    "QUEUED_STALE_SECONDS": 300,
    # --- the provider's word wins: unknown outcomes, late costs, jobs given up on --------
    # A job whose submission outcome is unknown (its POST may have reached the provider)
    # waits this long for the provider's callback, which binds it through the reference in
    # its callback URL, before staff are asked to mark it abandoned or resubmit it.
    "UNKNOWN_OUTCOME_ATTENTION_SECONDS": 3600,
    # A job the site gave up on (past the deadline, not found) is still polled this long,
    # every FOLLOW_UP_POLL_SECONDS, so a completion the provider bills is still recorded.
    "FOLLOW_UP_SECONDS": 24 * 3600,
    "FOLLOW_UP_POLL_SECONDS": 1800,
    # A completed job without a cost is polled for it (with the poll backoff) this long,
    # then flagged for staff.
    "LATE_COST_MAX_SECONDS": 24 * 3600,
    # Minutes between catalog syncs from /videos/models.
    "MODEL_SYNC_INTERVAL_MINUTES": 60,
    # --- outputs --------------------------------------------------------------------------
    "STORE_OUTPUTS": True,
    # Django storage alias outputs are written to ("default" unless the site adds one).
    "OUTPUT_STORAGE": "default",
    "OUTPUT_PATH_PREFIX": "videogen/outputs",
    # Days to keep stored outputs (None keeps them forever).
    "OUTPUT_RETENTION_DAYS": None,
    # Download attempts per output before giving up (then videogen_fetch_outputs retries).
    "OUTPUT_MAX_ATTEMPTS": 6,
    # Longest one fetch task may spend downloading a job's outputs (large files need time:
    # about size / bandwidth). The task gets this plus READ_TIMEOUT as its own django-q2
    # timeout, whatever the cluster's; a fetcher killed or timed out loses its claim a
    # minute after that and the sweep retries the output.
    "OUTPUT_FETCH_TIMEOUT_SECONDS": 900,
    # --- django-q2 ------------------------------------------------------------------------
    # Run tasks inline instead of through the broker (tests, one-off scripts).
    "TASKS_SYNC": False,
}


@dataclass(frozen=True)
class Rule:
    """What one ``VIDEOGEN`` value may be: its types (``expected`` says it in words),
    bounds or choices. ``normalise`` runs last and returns the value videogen uses (it may
    raise ``ValueError`` with the reason). ``bool`` is a number only where it is listed."""

    types: tuple[type, ...]
    expected: str
    nullable: bool = False
    minimum: int | float | None = None
    positive: bool = False
    choices: tuple[Any, ...] | None = None
    normalise: Callable[[Any], Any] | None = None

    def clean(self, key: str, value: Any) -> Any:
        """The value to use for ``key``; ``ImproperlyConfigured`` naming what is wrong."""
        if value is None and self.nullable:
            return None
        if not isinstance(value, self.types) or (
            isinstance(value, bool) and bool not in self.types
        ):
            raise ImproperlyConfigured(
                f"VIDEOGEN[{key!r}] must be {self.expected}, not {type(value).__name__}."
            )
        if self.minimum is not None and value < self.minimum:
            raise ImproperlyConfigured(f"VIDEOGEN[{key!r}] must be at least {self.minimum}.")
        if self.positive and not value > 0:
            raise ImproperlyConfigured(f"VIDEOGEN[{key!r}] must be greater than 0.")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ImproperlyConfigured(f"VIDEOGEN[{key!r}] must be one of {allowed}.")
        if self.normalise is not None:
            try:
                return self.normalise(value)
            except ValueError as err:
                raise ImproperlyConfigured(f"VIDEOGEN[{key!r}]: {err}") from None
        return value


def _secret_list(value: str | list | tuple) -> list[str]:
    # A bare string is one secret (django-anymail reads it so), never list("whsec_…").
    secrets = [value] if isinstance(value, str) else list(value)
    for index, secret in enumerate(secrets):
        if not isinstance(secret, str) or not secret:
            shown = "an empty string" if secret == "" else type(secret).__name__
            raise ValueError(f"item {index} must be a non-empty string, not {shown}.")
        if not secret.isprintable():
            raise ValueError(f"item {index} contains unprintable characters.")
    return secrets


def _integer(minimum: int, *, nullable: bool = False) -> Rule:
    expected = "an integer or None" if nullable else "an integer"
    return Rule((int,), expected, nullable=nullable, minimum=minimum)


def _seconds(*, positive: bool = False) -> Rule:
    return Rule((int, float, Decimal), "a number of seconds", minimum=0, positive=positive)


_BOOL = Rule((bool,), "a boolean")
_TEXT = Rule((str,), "a string")
_OPTIONAL_TEXT = Rule((str,), "a string or None", nullable=True)

RULES: dict[str, Rule] = {
    "API_KEY": _OPTIONAL_TEXT,
    "BASE_URL": _TEXT,
    "SIMULATOR": _BOOL,
    "CONNECT_TIMEOUT": _seconds(positive=True),
    "READ_TIMEOUT": _seconds(positive=True),
    "HTTP_POOL_SIZE": _integer(1),
    "APP_URL": _OPTIONAL_TEXT,
    "APP_TITLE": _OPTIONAL_TEXT,
    "WEBHOOK_SECRETS": Rule(
        (str, list, tuple), "a string or a list of non-empty strings", normalise=_secret_list
    ),
    "WEBHOOK_TOLERANCE_SECONDS": _integer(1),
    "WEBHOOK_ALLOW_UNSIGNED": _BOOL,
    "WEBHOOK_MAX_BODY_BYTES": _integer(1),
    "WEBHOOK_CONFIRM_BY_POLLING": _BOOL,
    "WEBHOOK_RETENTION_DAYS": _integer(1, nullable=True),
    "WEBHOOK_REFUSED_RETENTION_DAYS": _integer(1, nullable=True),
    "CALLBACK_URL": _OPTIONAL_TEXT,
    "SUBMIT_MAX_ATTEMPTS": _integer(1),
    "RECONCILE_EVERY_MINUTES": _integer(1),
    "RECONCILE_WINDOW_SECONDS": _seconds(),
    "RECONCILE_IDLE_SECONDS": _seconds(),
    "RECONCILE_BATCH_SIZE": _integer(1),
    "RECONCILE_APPLY_BATCH_SIZE": _integer(1),
    "POLL_CONCURRENCY": _integer(1),
    "POLL_INITIAL_DELAY_SECONDS": _seconds(),
    "POLL_MAX_DELAY_SECONDS": _seconds(),
    "POLL_LEASE_SECONDS": _seconds(positive=True),
    "NOT_FOUND_LIMIT": _integer(1),
    "JOB_DEADLINE_SECONDS": _seconds(positive=True),
    "SUBMITTING_STALE_SECONDS": _seconds(),
    "QUEUED_STALE_SECONDS": _seconds(),
    "UNKNOWN_OUTCOME_ATTENTION_SECONDS": _seconds(),
    "FOLLOW_UP_SECONDS": _seconds(),
    "FOLLOW_UP_POLL_SECONDS": _seconds(),
    "LATE_COST_MAX_SECONDS": _seconds(),
    "MODEL_SYNC_INTERVAL_MINUTES": _integer(1),
    "STORE_OUTPUTS": _BOOL,
    "OUTPUT_STORAGE": _TEXT,
    "OUTPUT_PATH_PREFIX": _TEXT,
    "OUTPUT_RETENTION_DAYS": _integer(0, nullable=True),
    "OUTPUT_MAX_ATTEMPTS": _integer(1),
    "OUTPUT_FETCH_TIMEOUT_SECONDS": _seconds(positive=True),
    "TASKS_SYNC": _BOOL,
}


def validated(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked and normalised key by key (keys without a rule pass as they are)."""
    return {
        key: RULES[key].clean(key, value) if key in RULES else value
        for key, value in values.items()
    }


class VideogenSettings:
    """Attribute access to ``settings.VIDEOGEN`` merged over ``DEFAULTS``."""

    def __init__(self, defaults: dict[str, Any]):
        self._defaults = defaults
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(django_settings, "VIDEOGEN", None) or {}

    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            user = self.user_settings
            if not isinstance(user, dict):
                raise ImproperlyConfigured(
                    f"settings.VIDEOGEN must be a dict, not {type(user).__name__}."
                )
            unknown = set(user) - set(self._defaults)
            if unknown:
                raise ImproperlyConfigured(
                    f"Unknown VIDEOGEN setting(s): {', '.join(sorted(map(str, unknown)))}. "
                    f"Known keys: {', '.join(sorted(self._defaults))}."
                )
            self._cache = validated({**self._defaults, **user})
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"Invalid VIDEOGEN setting: {name!r}")
        return self._merged()[name]

    def reload(self) -> None:
        self._cache = None

    def validate(self) -> None:
        """Read and check every key now (``ImproperlyConfigured`` naming the first bad one)."""
        self._merged()


videogen_settings = VideogenSettings(DEFAULTS)


@receiver(setting_changed)
def _reload_videogen_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "VIDEOGEN":
        videogen_settings.reload()
