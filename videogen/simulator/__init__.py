"""A faithful local OpenRouter video API, with signed webhooks, for demos, tests and benchmarks.

Start it in-process (``SimulatorServer``, or the ``simulator`` pytest fixture) or as a process
(``python manage.py videogen_simulator --port 8001``), then point ``VIDEOGEN["BASE_URL"]`` at
``http://127.0.0.1:8001/api/v1`` and use the API key ``sk-or-simulator``.

Endpoints (all need ``Authorization: Bearer <api_key>``; errors are always the spec's
``{"error": {"code": <int>, "message": <str>}}``)

- ``POST /api/v1/videos`` -> 202 ``{id, polling_url, status: "pending", generation_id}``.
  Strict validation, 400 with a message naming the field: unknown model; duration < 1 or
  not in ``supported_durations``; resolution / aspect_ratio outside the spec's enums or the
  model's lists; size not ``WxH``, not in ``supported_sizes`` (when the model lists sizes),
  not mapping onto a supported resolution + aspect ratio (when it does not), or conflicting
  with a given resolution / aspect_ratio; generate_audio=true or seed on a model without it;
  frame_images on a model without them, a frame_type it does not support, or twice; bad
  input_references parts; ``provider.options.<slug>`` keys (``{slug: {...}}`` or
  ``{slug: {parameters: {...}}}``) outside ``allowed_passthrough_parameters``, checked for
  every slug; creativity / upscale_factor (upscaling only); a callback_url that is not
  HTTPS (plain HTTP is accepted for ``http_callback_hosts``, default 127.0.0.1 / localhost
  / ::1, or any host with ``allow_http_callbacks``); a missing prompt, unless the model
  supports frame images and one is given. Malformed JSON -> 400; body > 50 MiB -> 413.
- ``GET /api/v1/videos/{id}`` -> ``VideoGenerationResponse``; ``error`` when failed /
  cancelled / expired; ``unsigned_urls`` (absolute, pointing at the content endpoint) and
  ``usage: {cost, is_byok: false}`` when completed. Unknown id -> 404.
- ``GET /api/v1/videos/{id}/content?index=N`` -> ``video/mp4`` bytes (``assets/sample.mp4``,
  or ``content_size_bytes`` of synthetic, streamed bytes). 404 for an unknown job, a job not
  completed or an index out of range; 400 for an index that is not a non-negative integer.
- ``GET /api/v1/videos/models`` -> ``{data: [VideoModel]}`` from ``catalog.DEFAULT_MODELS``
  (cost formula in ``catalog``'s docstring).

Timeline: a job is ``pending`` for ``pending_seconds``, ``in_progress`` for
``processing_seconds``, then terminal, computed lazily from its creation time (no thread per
job). Prompt markers choose the ending:

- ``[sim:fail]`` -> ``failed`` with an ``error``; ``[sim:cancel]`` -> ``cancelled``;
  ``[sim:expire]`` -> ``expired``; no marker -> ``completed``.
- ``[sim:late-cost]`` -> completed, but ``usage.cost`` is null on the first
  ``late_cost_polls`` completed polls (and in the webhook), a number afterwards.
- ``[sim:content-error]`` -> completed, but the content endpoint answers 502.
- ``[sim:no-credits]`` -> the submission is refused with 402.

In-process tests can also pin a job: ``sim.state.set_status(job_id, "failed", error=...)``
(a terminal status fires the webhook) and ``sim.state.forget(job_id)`` (404 from then on).

Webhooks: when a job with a ``callback_url`` ends, one dispatcher thread POSTs
``{type: "video.generation.<status>", created_at, data: {id, status, generation_id, model,
unsigned_urls, usage, error}}`` with ``X-OpenRouter-Signature: t=<unix>,v1=<hmac>`` (signed
with ``webhook_secret``; unsigned when it is empty) and ``X-OpenRouter-Idempotency-Key:
<job id>-<status>``, retrying non-2xx answers and connection errors after
``webhook_backoff_seconds * 2**(n-1)`` (capped by ``webhook_backoff_max_seconds``) up to
``webhook_max_attempts``. Every attempt is kept in ``sim.webhooks.attempts``.

Fault injection (``SimulatorConfig``, changeable at runtime; each rate a probability 0..1,
drawn from ``random.Random(seed)``; applies to the four API endpoints, not the control API):
``latency_seconds`` (sleep added to every call), ``rate_limit_rate`` (429 with
``Retry-After: <retry_after_seconds>``), ``server_error_rate`` (500 / 502 / 503 JSON error),
``malformed_rate`` (200 with a body that is not JSON), ``reset_rate`` (connection closed with
a RST, no response). With ``fault_after_processing`` the request is handled first (a POST
creates its job) and the fault replaces the answer.

Other config fields: ``host``, ``port`` (0 = free port), ``public_url`` (origin put in
unsigned_urls, default the bound address), ``api_key`` (default ``sk-or-simulator``),
``keepalive_timeout_seconds``, ``max_body_bytes``, ``outputs_per_job``,
``content_size_bytes`` / ``content_chunk_bytes``, ``webhook_timeout_seconds``, ``models``.

Control API (same bearer key, at the server root, never subject to faults):

- ``GET /_simulator/config``; ``POST /_simulator/config`` with a JSON patch, e.g.
  ``{"latency_seconds": 0.1, "server_error_rate": 0.05}`` (400 for unknown fields, bad
  types, rates outside 0..1, or startup-only fields: host, port, api_key, webhook_secret).
- ``GET /_simulator/stats`` (requests per endpoint, responses per status, faults, jobs by
  status, webhook counts); ``DELETE /_simulator/stats`` resets the counters.
- ``POST /_simulator/jobs/{id}`` ``{"status": ..., "error": ..., "cost": ...}`` pins a job;
  ``DELETE /_simulator/jobs/{id}`` forgets it.
- ``GET /_simulator/webhooks``: every webhook attempt with headers, body and outcome.
"""

from __future__ import annotations

from .catalog import DEFAULT_MODELS, Catalog, VideoModelSpec, compute_cost
from .config import ConfigError, SimulatorConfig
from .server import SimulatorServer
from .state import (
    CANCEL_MARKER,
    CONTENT_ERROR_MARKER,
    EXPIRE_MARKER,
    FAIL_MARKER,
    LATE_COST_MARKER,
    NO_CREDITS_MARKER,
    JobStore,
)
from .webhooks import WebhookAttempt, WebhookDispatcher

__all__ = [
    "CANCEL_MARKER",
    "CONTENT_ERROR_MARKER",
    "DEFAULT_MODELS",
    "EXPIRE_MARKER",
    "FAIL_MARKER",
    "LATE_COST_MARKER",
    "NO_CREDITS_MARKER",
    "Catalog",
    "ConfigError",
    "JobStore",
    "SimulatorConfig",
    "SimulatorServer",
    "VideoModelSpec",
    "WebhookAttempt",
    "WebhookDispatcher",
    "compute_cost",
]
