"""Routing and endpoint logic, free of sockets: ``SimulatorApp.handle(Request) -> Response``.

The HTTP handler in ``server.py`` only parses bytes into a ``Request`` and writes the
``Response`` back, so every behaviour here (auth, validation, faults, latency) is the same
for in-process tests and for a benchmark over the network.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .catalog import Catalog, compute_cost
from .config import ConfigError, SimulatorConfig
from .content import CONTENT_TYPE, sample_bytes, synthetic_chunks
from .faults import Fault, FaultInjector, FaultKind
from .payloads import API_PREFIX, dumps, error_body, generation_json, job_json, submit_json
from .state import COMPLETED, NO_CREDITS_MARKER, STATUSES, JobStore
from .stats import Stats
from .validation import RequestError, validate_request
from .webhooks import WebhookDispatcher

CONTROL_PREFIX = "/_simulator"

# Endpoint names used in stats.
EP_CREATE = "POST /videos"
EP_GET = "GET /videos/{id}"
EP_CONTENT = "GET /videos/{id}/content"
EP_MODELS = "GET /videos/models"
EP_GENERATION = "GET /generation"
EP_CONTROL = "control"
EP_OTHER = "other"

_MALFORMED_BODY = b'{"id": "job-'  # 200 with a truncated JSON document
# What a gateway in front of the provider answers when it loses the upstream's reply.
_GATEWAY_BODY = b"<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    # Lower-case header names.
    headers: Mapping[str, str] | None = None
    body: bytes = b""
    content_length: int = 0


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    # A streamed body of content_length bytes (used instead of ``body``).
    stream: Iterable[bytes] | None = None
    content_length: int | None = None
    # Close the connection without answering (fault injection).
    reset: bool = False

    @property
    def length(self) -> int:
        if self.stream is not None:
            return self.content_length or 0
        return len(self.body)


def error(code: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(code, error_body(code, message), headers=headers)


def json_response(status: int, obj: Any) -> Response:
    return Response(status, dumps(obj))


class SimulatorApp:
    """The simulated OpenRouter video API plus the ``/_simulator`` control API."""

    def __init__(
        self,
        *,
        config: SimulatorConfig,
        catalog: Catalog,
        state: JobStore,
        faults: FaultInjector,
        stats: Stats,
        webhooks: WebhookDispatcher,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.state = state
        self.faults = faults
        self.stats = stats
        self.webhooks = webhooks
        # scheme://host:port of absolute URLs (unsigned_urls); set by the server once bound.
        self.public_origin = "http://127.0.0.1"
        self._models_body = dumps(catalog.list_json)

    # --- entry point ----------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX + "/") or request.path == CONTROL_PREFIX:
            response = self._control(request)
            self.stats.record(EP_CONTROL, response.status)
            return response
        endpoint, handler, allowed = self._route(request)
        if handler is None:
            response = (
                error(405, f"method {request.method} not allowed", (("Allow", allowed),))
                if allowed
                else error(404, "Resource not found")
            )
            self.stats.record(endpoint, response.status)
            return response

        cfg = self.config
        if cfg.latency_seconds > 0 and not cfg.latency_after_processing:
            time.sleep(cfg.latency_seconds)
        fault = self.faults.draw()
        # A 429 always comes before processing (see SimulatorConfig.fault_after_processing).
        if fault is not None and (
            not cfg.fault_after_processing or fault.kind is FaultKind.RATE_LIMIT
        ):
            response = self._fault_response(fault)
        else:
            response = self._guarded(request, handler)
            if cfg.latency_seconds > 0 and cfg.latency_after_processing:
                time.sleep(cfg.latency_seconds)
            if fault is not None:
                response = self._fault_response(fault, after_processing=True)
        self.stats.record(endpoint, response.status, fault.kind.value if fault else None)
        return response

    def _route(self, request: Request) -> tuple[str, Any, str]:
        """``(endpoint name, handler or None, allowed methods when the path exists)``."""
        path = request.path
        if path.rstrip("/") == API_PREFIX + "/generation":
            return EP_GENERATION, self._generation if request.method == "GET" else None, "GET"
        if not path.startswith(API_PREFIX + "/videos"):
            return EP_OTHER, None, ""
        parts = path[len(API_PREFIX) + 1 :].rstrip("/").split("/")
        method = request.method
        if parts == ["videos"]:
            return EP_CREATE, self._create if method == "POST" else None, "POST"
        if parts == ["videos", "models"]:
            return EP_MODELS, self._models if method == "GET" else None, "GET"
        if len(parts) == 2 and parts[0] == "videos" and parts[1]:
            return EP_GET, self._get if method == "GET" else None, "GET"
        if len(parts) == 3 and parts[0] == "videos" and parts[1] and parts[2] == "content":
            return EP_CONTENT, self._content if method == "GET" else None, "GET"
        return EP_OTHER, None, ""

    def _guarded(self, request: Request, handler: Any) -> Response:
        if request.content_length > self.config.max_body_bytes:
            return error(413, f"request body exceeds {self.config.max_body_bytes} bytes")
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        return handler(request)

    def _authenticate(self, request: Request) -> Response | None:
        header = (request.headers or {}).get("authorization")
        if not header:
            return error(401, "Missing Authentication header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "Authorization header must be 'Bearer <api key>'")
        if not hmac.compare_digest(token.strip().encode(), self.config.api_key.encode()):
            return error(401, "Invalid API key")
        return None

    def _fault_response(self, fault: Fault, *, after_processing: bool = False) -> Response:
        if fault.kind is FaultKind.RESET:
            return Response(0, reset=True)
        if fault.kind is FaultKind.RATE_LIMIT:
            retry_after = str(self.config.retry_after_seconds)
            return error(429, "Rate limit exceeded", (("Retry-After", retry_after),))
        if fault.kind is FaultKind.SERVER_ERROR and after_processing:
            return Response(fault.status, _GATEWAY_BODY, content_type="text/html")
        if fault.kind is FaultKind.SERVER_ERROR:
            messages = {500: "Internal Server Error", 502: "Provider returned error"}
            return error(fault.status, messages.get(fault.status, "Service Unavailable"))
        return Response(200, _MALFORMED_BODY)

    # --- the four endpoints ---------------------------------------------------------------
    def _create(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as err:
            return error(400, f"request body is not valid JSON: {err}")
        try:
            model, body = validate_request(body, catalog=self.catalog, config=self.config)
        except RequestError as err:
            return error(err.status, err.message)
        prompt = body.get("prompt") or ""
        if NO_CREDITS_MARKER in prompt:
            return error(402, "Insufficient credits. Add more using https://openrouter.ai/credits")
        cfg = self.config
        job = self.state.create(
            model=model.id,
            prompt=prompt,
            cost=compute_cost(model, body),
            pending_seconds=cfg.pending_seconds,
            processing_seconds=cfg.processing_seconds,
            callback_url=body.get("callback_url"),
            outputs=cfg.outputs_per_job,
            late_cost_polls=cfg.late_cost_polls,
        )
        view = self.state.view(job.id, count_poll=False)
        assert view is not None
        return json_response(202, submit_json(view))

    def _get(self, request: Request) -> Response:
        job_id = request.path.rstrip("/").rsplit("/", 1)[1]
        view = self.state.view(job_id)
        if view is None:
            return error(404, f"video generation job {job_id!r} not found")
        return json_response(200, job_json(view, self.public_origin))

    def _content(self, request: Request) -> Response:
        job_id = request.path.rstrip("/").rsplit("/", 2)[1]
        raw = parse_qs(request.query).get("index", [""])[-1]
        if raw in ("", "null"):
            index = 0
        elif raw.isdigit():
            index = int(raw)
        else:
            return error(400, "'index' must be a non-negative integer")
        view = self.state.view(job_id, count_poll=False)
        if view is None:
            return error(404, f"video generation job {job_id!r} not found")
        if view.status != COMPLETED:
            return error(404, f"video generation job {job_id!r} has no content ({view.status})")
        if index >= view.outputs:
            return error(404, f"job {job_id!r} has {view.outputs} output(s); no index {index}")
        if view.content_error:
            return error(502, "Provider returned error")
        size = self.config.content_size_bytes
        if size is not None:
            return Response(
                200,
                content_type=CONTENT_TYPE,
                stream=synthetic_chunks(size, self.config.content_chunk_bytes),
                content_length=size,
            )
        return Response(200, sample_bytes(), content_type=CONTENT_TYPE)

    def _models(self, request: Request) -> Response:
        return Response(200, self._models_body)

    def _generation(self, request: Request) -> Response:
        generation_id = parse_qs(request.query).get("id", [""])[-1]
        if not generation_id:
            return error(400, "'id' is required")
        view = self.state.view_generation(generation_id)
        if view is None or not view.is_terminal:
            return error(404, f"generation {generation_id!r} not found")
        return json_response(200, generation_json(view))

    # --- control API ----------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        path = request.path.rstrip("/")
        method = request.method
        if path == CONTROL_PREFIX + "/config":
            if method == "GET":
                return json_response(200, self.config.public_dict())
            if method in ("POST", "PATCH"):
                return self._patch_config(request)
            return error(405, "use GET or POST", (("Allow", "GET, POST, PATCH"),))
        if path == CONTROL_PREFIX + "/stats":
            if method == "GET":
                return json_response(200, self.stats_json())
            if method == "DELETE":
                self.stats.reset()
                return json_response(200, self.stats_json())
            return error(405, "use GET or DELETE", (("Allow", "GET, DELETE"),))
        if path == CONTROL_PREFIX + "/webhooks" and method == "GET":
            return json_response(200, {"data": self._webhooks_json()})
        if path.startswith(CONTROL_PREFIX + "/jobs/"):
            return self._control_job(request, path[len(CONTROL_PREFIX + "/jobs/") :])
        return error(404, "unknown simulator control endpoint")

    def stats_json(self) -> dict[str, Any]:
        out = self.stats.snapshot()
        out["jobs"] = {"total": len(self.state), "by_status": self.state.counts_by_status()}
        out["webhooks"] = self.webhooks.stats()
        return out

    def _patch_config(self, request: Request) -> Response:
        try:
            patch = json.loads(request.body or b"{}")
            applied = self.config.apply_patch(patch)
        except (ValueError, UnicodeDecodeError) as err:  # ConfigError is a ValueError
            kind = "invalid config patch" if isinstance(err, ConfigError) else "invalid JSON"
            return error(400, f"{kind}: {err}")
        if "seed" in applied:
            self.faults.reseed(applied["seed"])
        return json_response(200, self.config.public_dict())

    def _control_job(self, request: Request, job_id: str) -> Response:
        if request.method == "DELETE":
            if not self.state.forget(job_id):
                return error(404, f"video generation job {job_id!r} not found")
            return Response(204)
        if request.method != "POST":
            return error(405, "use POST or DELETE", (("Allow", "POST, DELETE"),))
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            return error(400, f"invalid JSON: {err}")
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUSES:
            return error(400, f"'status' must be one of: {', '.join(STATUSES)}")
        try:
            self.state.set_status(job_id, status, error=body.get("error"), cost=body.get("cost"))
        except KeyError:
            return error(404, f"video generation job {job_id!r} not found")
        except ArithmeticError:
            return error(400, "'cost' must be a number")
        view = self.state.view(job_id, count_poll=False)
        assert view is not None
        return json_response(200, job_json(view, self.public_origin))

    def _webhooks_json(self) -> list[dict[str, Any]]:
        return [
            {
                "job_id": a.job_id,
                "status": a.status,
                "url": a.url,
                "attempt": a.attempt,
                "sent_at": a.sent_at,
                "response_status": a.response_status,
                "error": a.error,
                "headers": a.headers,
                "body": a.body.decode(),
            }
            for a in self.webhooks.attempts
        ]
