"""``SimulatorConfig``: every knob of the simulator in one mutable dataclass.

Mutable on purpose: fault rates, latency and timings can be changed while the server runs
(from a test, or over ``POST /_simulator/config``). Job timings are copied into each job at
submission, so a change only affects jobs submitted afterwards.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_KEY = "sk-or-simulator"
DEFAULT_WEBHOOK_SECRET = "whsec-simulator"  # noqa: S105 - a public local-dev default
MAX_BODY_BYTES = 50 * 1024 * 1024

# Fields that make no sense to change on a running server (the socket is already bound, the
# catalog is already built) or that would leak secrets through the control API.
_STARTUP_ONLY = frozenset({"host", "port", "api_key", "webhook_secret", "models"})
_SECRET_FIELDS = frozenset({"api_key", "webhook_secret"})
_RATE_FIELDS = frozenset({"rate_limit_rate", "server_error_rate", "malformed_rate", "reset_rate"})


class ConfigError(ValueError):
    """A config patch names an unknown field or carries a value of the wrong type/range."""


@dataclass
class SimulatorConfig:
    """Settings of one simulator instance (see the package docstring for each field)."""

    # --- network ------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 0
    # Scheme + host + port put in front of unsigned_urls; None = derived from the bound socket.
    public_url: str | None = None
    api_key: str = DEFAULT_API_KEY
    # Idle keep-alive connections are closed after this many seconds.
    keepalive_timeout_seconds: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    # --- job timeline ---------------------------------------------------------------------
    pending_seconds: float = 2.0
    processing_seconds: float = 5.0
    # A "[sim:late-cost]" job answers usage.cost = null on this many completed polls first.
    late_cost_polls: int = 1
    # How many outputs (unsigned_urls / content indexes) a completed job has.
    outputs_per_job: int = 1
    # Serve a synthetic body of this many bytes instead of sample.mp4 (benchmarks).
    content_size_bytes: int | None = None
    content_chunk_bytes: int = 64 * 1024
    # --- callbacks and webhooks -----------------------------------------------------------
    # HTTP (not HTTPS) callback_url hosts accepted for local development.
    http_callback_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    # Accept plain-HTTP callback_url for any host (docker-compose style service names).
    allow_http_callbacks: bool = False
    # Empty or None: webhooks go out unsigned.
    webhook_secret: str | None = DEFAULT_WEBHOOK_SECRET
    webhook_max_attempts: int = 5
    # Delay before retry n is webhook_backoff_seconds * 2**(n-1), capped at the max.
    webhook_backoff_seconds: float = 1.0
    webhook_backoff_max_seconds: float = 60.0
    webhook_timeout_seconds: float = 5.0
    # --- fault injection ------------------------------------------------------------------
    latency_seconds: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    server_error_rate: float = 0.0
    malformed_rate: float = 0.0
    reset_rate: float = 0.0
    # When True the request is processed (a POST creates its job) before a reset, a
    # malformed body or a server error replaces the answer: the client cannot tell whether
    # its submission happened. A server error after processing answers like a gateway (an
    # HTML page), never with the provider's documented error body, and a 429 is always
    # answered before processing: a documented refusal of a job the provider then created
    # would be a provider bug, and the client trusts those answers.
    fault_after_processing: bool = False
    # Sleep latency_seconds after handling the request instead of before: a client whose
    # read timeout is shorter gives up on a POST that did create its job.
    latency_after_processing: bool = False
    seed: int | None = 0
    # --- catalog --------------------------------------------------------------------------
    # None = catalog.DEFAULT_MODELS.
    models: tuple[Any, ...] | None = None

    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.http_callback_hosts = tuple(self.http_callback_hosts)
        for name in _RATE_FIELDS:
            _check_rate(name, getattr(self, name))

    def public_dict(self) -> dict[str, Any]:
        """Config as JSON-ready dict, secrets redacted, for ``GET /_simulator/config``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_") or f.name == "models":
                continue
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = "***"
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def apply_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Validate and apply a partial update atomically; return the applied values.

        Raises ``ConfigError`` before changing anything if one key or value is bad.
        """
        if not isinstance(patch, dict):
            raise ConfigError("config patch must be a JSON object")
        fields = {f.name: f for f in dataclasses.fields(self) if not f.name.startswith("_")}
        coerced: dict[str, Any] = {}
        for name, value in patch.items():
            if name not in fields:
                raise ConfigError(f"unknown config field {name!r}")
            if name in _STARTUP_ONLY:
                raise ConfigError(f"config field {name!r} cannot be changed at runtime")
            coerced[name] = _coerce(name, getattr(self, name), value, fields[name].type)
        with self._lock:
            for name, value in coerced.items():
                setattr(self, name, value)
        return coerced


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name} must be a probability between 0 and 1")


def _coerce(name: str, current: Any, value: Any, annotation: Any) -> Any:
    """Coerce a JSON value to the field's type (annotations are strings under PEP 563)."""
    text = str(annotation)
    if value is None:
        if "None" not in text:
            raise ConfigError(f"{name} cannot be null")
        return None
    if text.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be a boolean")
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, not a boolean")
    if text.startswith("int"):
        if not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer")
        if value < 0:
            raise ConfigError(f"{name} must be >= 0")
        return value
    if text.startswith("float"):
        if not isinstance(value, int | float):
            raise ConfigError(f"{name} must be a number")
        if value < 0:
            raise ConfigError(f"{name} must be >= 0")
        if name in _RATE_FIELDS:
            _check_rate(name, value)
        return float(value)
    if text.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings")
        return tuple(value)
    if text.startswith("str"):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
        return value
    raise ConfigError(f"{name} cannot be changed at runtime")  # pragma: no cover
