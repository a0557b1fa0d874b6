"""The JSON the simulator speaks: job responses, webhook events, error bodies.

Kept apart from the HTTP plumbing so the GET response and the webhook's ``data`` are built by
the same code and can never drift apart.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .state import COMPLETED, JobView

API_PREFIX = "/api/v1"

# Money leaves as an exact JSON number: a Decimal is encoded as a marked string, then the
# quotes and marker are stripped (json cannot write a raw number literal for a Decimal).
_DECIMAL_MARK = "\u0000decimal:"
_DECIMAL_RE = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"')


def _encode_decimal(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return f"{_DECIMAL_MARK}{value:f}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_encode_decimal)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (C encoder, no indentation: polls must stay cheap)."""
    text = _encoder.encode(obj)
    if "decimal:" in text:
        text = _DECIMAL_RE.sub(r"\1", text)
    return text.encode()


def error_body(code: int, message: str) -> bytes:
    """The spec's error shape, ``{"error": {"code": ..., "message": ...}}``."""
    return dumps({"error": {"code": code, "message": message}})


def polling_path(job_id: str) -> str:
    # Relative, as the real API returns it.
    return f"{API_PREFIX}/videos/{job_id}"


def content_url(origin: str, job_id: str, index: int) -> str:
    return f"{origin}{API_PREFIX}/videos/{job_id}/content?index={index}"


def unsigned_urls(view: JobView, origin: str) -> list[str]:
    return [content_url(origin, view.id, i) for i in range(view.outputs)]


def usage_json(view: JobView) -> dict[str, Any]:
    # Cost is a JSON number (the spec's type), written from the Decimal exactly.
    return {"cost": view.cost, "is_byok": False}


def submit_json(view: JobView) -> dict[str, Any]:
    """Body of the 202 answering ``POST /videos``."""
    return {
        "id": view.id,
        "polling_url": polling_path(view.id),
        "status": "pending",
        "generation_id": view.generation_id,
    }


def job_json(view: JobView, origin: str) -> dict[str, Any]:
    """A ``VideoGenerationResponse``: optional keys appear only when they carry a value."""
    body: dict[str, Any] = {
        "id": view.id,
        "polling_url": polling_path(view.id),
        "status": view.status,
        "generation_id": view.generation_id,
    }
    if view.error is not None:
        body["error"] = view.error
    if view.status == COMPLETED:
        body["unsigned_urls"] = unsigned_urls(view, origin)
        body["usage"] = usage_json(view)
    return body


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_event(view: JobView, origin: str, created_at: str | None = None) -> dict[str, Any]:
    """The body POSTed to a job's callback_url when it reaches a terminal status."""
    completed = view.status == COMPLETED
    return {
        "type": f"video.generation.{view.status}",
        "created_at": created_at or iso_now(),
        "data": {
            "id": view.id,
            "status": view.status,
            "generation_id": view.generation_id,
            "model": view.model,
            "unsigned_urls": unsigned_urls(view, origin) if completed else None,
            "usage": usage_json(view) if completed else None,
            "error": view.error,
        },
    }


def generation_json(view: JobView) -> dict[str, Any]:
    """``GET /generation?id=`` for a video job: the provider's record of what it billed
    (``total_cost``); a ``GenerationResponse`` with the fields a video has, null elsewhere."""
    nullable = (
        "upstream_id",
        "app_id",
        "cache_discount",
        "upstream_inference_cost",
        "cancelled",
        "provider_name",
        "latency",
        "moderation_latency",
        "generation_time",
        "finish_reason",
        "service_tier",
        "tokens_prompt",
        "tokens_completion",
        "native_tokens_prompt",
        "native_tokens_completion",
        "native_tokens_completion_images",
        "native_tokens_reasoning",
        "native_tokens_cached",
        "num_media_prompt",
        "num_input_audio_prompt",
        "num_media_completion",
        "num_search_results",
        "num_fetches",
        "web_search_engine",
        "native_finish_reason",
        "external_user",
        "preset_id",
        "router",
        "provider_responses",
        "user_agent",
        "http_referer",
        "workspace_id",
        "streamed",
    )
    data: dict[str, Any] = dict.fromkeys(nullable)
    cost = view.cost if view.cost is not None else Decimal(0)
    data.update(
        id=view.generation_id,
        total_cost=cost,
        usage=cost,
        created_at=iso_now(),
        model=view.model,
        origin="",
        is_byok=False,
        api_type="video",
        data_region="global",
        cancelled=view.status == "cancelled",
        num_media_completion=view.outputs if view.status == COMPLETED else 0,
    )
    return {"data": data}
