"""Typed, immutable views of OpenRouter's video API wire JSON.

Numbers that carry money are parsed as ``Decimal`` (the client decodes JSON with
``parse_float=Decimal``), and provider statuses are translated into ``VideoStatus`` with a
fallback for values this version has never seen (logged, never raised).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)


class VideoStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    # A status this version does not know: treated as still in flight.
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {VideoStatus.COMPLETED, VideoStatus.FAILED, VideoStatus.CANCELLED, VideoStatus.EXPIRED}
)

_STATUS_MAP = {s.value: s for s in VideoStatus if s is not VideoStatus.UNKNOWN}


def parse_status(value: Any) -> VideoStatus:
    status = _STATUS_MAP.get(value) if isinstance(value, str) else None
    if status is None:
        logger.warning("videogen: unknown provider video status %r", value)
        return VideoStatus.UNKNOWN
    return status


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError:
            return None
    elif isinstance(value, float):
        # Only reached for JSON decoded elsewhere; repr keeps the shortest exact form.
        result = Decimal(repr(value))
    else:
        return None
    # NaN/Infinity (e.g. a "NaN" string) is never an amount of money.
    return result if result.is_finite() else None


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def _optional_tuple(value: Any) -> tuple | None:
    return tuple(value) if isinstance(value, list) else None


@dataclass(frozen=True)
class VideoUsage:
    cost: Decimal | None
    is_byok: bool = False

    @classmethod
    def from_json(cls, data: Any) -> VideoUsage | None:
        if not isinstance(data, dict):
            return None
        return cls(cost=_decimal_or_none(data.get("cost")), is_byok=bool(data.get("is_byok")))


@dataclass(frozen=True)
class VideoJobSnapshot:
    """One observation of a provider job (from a POST, a poll or a webhook)."""

    id: str
    status: VideoStatus
    polling_url: str = ""
    raw_status: str = ""
    generation_id: str | None = None
    error: str | None = None
    unsigned_urls: tuple[str, ...] = ()
    usage: VideoUsage | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoJobSnapshot:
        """Build from a ``VideoGenerationResponse`` (or a webhook's ``data``).

        Raises ``ValueError`` when the required ``id`` or ``status`` is missing.
        """
        if not isinstance(data, dict):
            raise ValueError("video job JSON must be an object")
        job_id = data.get("id")
        raw_status = data.get("status")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("video job JSON has no 'id'")
        if not isinstance(raw_status, str):
            raise ValueError("video job JSON has no 'status'")
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            # The spec says string; some upstreams send {code, message}.
            error = error.get("message") if isinstance(error, dict) else str(error)
            error = str(error) if error is not None else None
        generation_id = data.get("generation_id")
        return cls(
            id=job_id,
            status=parse_status(raw_status),
            polling_url=str(data.get("polling_url") or ""),
            raw_status=raw_status,
            generation_id=str(generation_id) if generation_id else None,
            error=error,
            unsigned_urls=_str_tuple(data.get("unsigned_urls")),
            usage=VideoUsage.from_json(data.get("usage")),
            raw=data,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


@dataclass(frozen=True)
class VideoModelInfo:
    """One entry of ``GET /videos/models`` (``VideoModel`` in the spec)."""

    id: str
    canonical_slug: str
    name: str
    description: str = ""
    created: int | None = None
    supported_durations: tuple[int, ...] | None = None
    supported_resolutions: tuple[str, ...] | None = None
    supported_aspect_ratios: tuple[str, ...] | None = None
    supported_sizes: tuple[str, ...] | None = None
    supported_frame_images: tuple[str, ...] | None = None
    generate_audio: bool | None = None
    seed: bool | None = None
    pricing_skus: dict[str, str] | None = None
    allowed_passthrough_parameters: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoModelInfo:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("video model JSON has no 'id'")
        skus = data.get("pricing_skus")
        created = data.get("created")
        return cls(
            id=data["id"],
            canonical_slug=str(data.get("canonical_slug") or data["id"]),
            name=str(data.get("name") or data["id"]),
            description=str(data.get("description") or ""),
            created=int(created) if isinstance(created, int | Decimal) else None,
            supported_durations=_optional_tuple(data.get("supported_durations")),
            supported_resolutions=_optional_tuple(data.get("supported_resolutions")),
            supported_aspect_ratios=_optional_tuple(data.get("supported_aspect_ratios")),
            supported_sizes=_optional_tuple(data.get("supported_sizes")),
            supported_frame_images=_optional_tuple(data.get("supported_frame_images")),
            generate_audio=data.get("generate_audio")
            if isinstance(data.get("generate_audio"), bool)
            else None,
            seed=data.get("seed") if isinstance(data.get("seed"), bool) else None,
            pricing_skus={str(k): str(v) for k, v in skus.items()}
            if isinstance(skus, dict)
            else None,
            allowed_passthrough_parameters=_str_tuple(data.get("allowed_passthrough_parameters")),
            raw=data,
        )


@dataclass(frozen=True)
class GenerationRecord:
    """The provider's record of one generation (``GET /generation?id=``): what it billed."""

    id: str
    total_cost: Decimal | None
    model: str = ""
    is_byok: bool = False
    api_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, body: Any) -> GenerationRecord:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("generation JSON has no 'data.id'")
        return cls(
            id=data["id"],
            total_cost=_decimal_or_none(data.get("total_cost")),
            model=str(data.get("model") or ""),
            is_byok=bool(data.get("is_byok")),
            api_type=data.get("api_type") if isinstance(data.get("api_type"), str) else None,
            raw=data,
        )
