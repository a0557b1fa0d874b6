"""Cost estimates before submission, read from the catalog's ``pricing_skus``.

OpenRouter publishes prices as SKU name → USD string, with the provider prefix stripped.
We understand these shapes (``<res>`` is a resolution such as ``720p``; ``<n>`` seconds):

=============================  ===========================================================
SKU                            read as
=============================  ===========================================================
``generate``, ``per_video``    a flat price per video
``per_video_<n>s``             a flat price for a video of exactly ``n`` seconds
``per_second``                 price per second of video
``per_second_<res>``           price per second at that resolution
``per_second_audio``           price per second when audio is generated (replaces the
                               silent rate; audio defaults to the model's capability flag)
``per_second_<res>_audio``     the same, at that resolution
=============================  ===========================================================

estimate = flat + duration × rate, where flat is ``per_video_<n>s`` for the request's
duration (else ``generate``/``per_video``, else 0) and rate is the most specific per-second
SKU that matches the request's resolution and audio (else 0).

We say "no estimate" (``None``) rather than guess when: the model has no SKUs; any SKU has
a name we do not understand or a value that is not a number (it might add to the price);
a per-second price applies but the duration is unknown (not given and the model does not
support exactly one); the request's resolution is unknown while prices differ by
resolution; or no SKU applies to the request at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from videogen.models import VideoModel
from videogen.services.jobs.request import JobRequest, validate_job_request

_PER_VIDEO_N = re.compile(r"^per_video_(\d+)s$")
_PER_SECOND = re.compile(r"^per_second(?:_(?P<res>\d+p|\dK))?(?P<audio>_audio)?$")
_FLAT = frozenset({"generate", "per_video"})


@dataclass(frozen=True)
class Estimate:
    cost: Decimal | None
    reason: str  # how it was computed, or why there is none

    def __bool__(self) -> bool:
        return self.cost is not None


def _parse_skus(skus: Mapping[str, Any]) -> dict[str, Decimal] | str:
    prices: dict[str, Decimal] = {}
    for name, value in skus.items():
        if not (name in _FLAT or _PER_VIDEO_N.match(name) or _PER_SECOND.match(name)):
            return f"SKU {name!r} is not understood"
        try:
            price = Decimal(str(value))
        except InvalidOperation:
            return f"SKU {name!r} has a non-numeric price {value!r}"
        if not price.is_finite() or price < 0:
            return f"SKU {name!r} has an invalid price {value!r}"
        prices[name] = price
    return prices


def estimate_cost(*, model: VideoModel | None, request: Mapping[str, Any]) -> Estimate:
    """Estimate the cost in USD of ``request`` (cleaned job fields) on ``model``."""
    if model is None or not model.pricing_skus:
        return Estimate(None, "the model publishes no prices")
    prices = _parse_skus(model.pricing_skus)
    if isinstance(prices, str):
        return Estimate(None, prices)

    duration = request.get("duration")
    if duration is None and model.supported_durations and len(model.supported_durations) == 1:
        duration = model.supported_durations[0]
    resolution = request.get("resolution") or None
    if resolution is None and model.supported_resolutions and len(model.supported_resolutions) == 1:
        resolution = model.supported_resolutions[0]
    # The spec: generate_audio defaults to the model's generate_audio capability.
    audio = request.get("generate_audio")
    audio = bool(model.generate_audio) if audio is None else bool(audio)

    flat_name = next(
        (
            name
            for name in (f"per_video_{duration}s" if duration else None, "generate", "per_video")
            if name and name in prices
        ),
        None,
    )
    per_second = {name: price for name, price in prices.items() if _PER_SECOND.match(name)}
    rate_name = None
    if per_second:
        by_resolution = any(_PER_SECOND.match(n).group("res") for n in per_second)
        if by_resolution and resolution is None:
            return Estimate(None, "prices differ by resolution and none was given")
        candidates = []
        if audio:
            candidates += [f"per_second_{resolution}_audio", "per_second_audio"]
        candidates += [f"per_second_{resolution}", "per_second"]
        rate_name = next((name for name in candidates if name in per_second), None)
    if rate_name and duration is None:
        return Estimate(None, "the price is per second and the duration is unknown")
    if flat_name is None and rate_name is None:
        return Estimate(None, "no published SKU applies to this request")

    cost = prices[flat_name] if flat_name else Decimal(0)
    parts = [f"{flat_name} {prices[flat_name]}"] if flat_name else []
    if rate_name:
        cost += prices[rate_name] * duration
        parts.append(f"{duration}s × {rate_name} {prices[rate_name]}")
    return Estimate(cost, " + ".join(parts))


@dataclass(frozen=True)
class RequestEstimate:
    model: str
    estimated_cost: Decimal | None
    reason: str
    currency: str = "USD"


def job_request_estimate(*, data: Mapping[str, Any]) -> RequestEstimate:
    """Validate a job request like submission does and estimate its cost; store nothing.
    A ``JobRequest`` (already validated) is not validated again.

    Raises django ``ValidationError`` (field errors with codes) for an invalid request.
    """
    cleaned = data if isinstance(data, JobRequest) else validate_job_request(data)
    estimate = estimate_cost(model=cleaned.catalog_entry, request=cleaned)
    return RequestEstimate(
        model=cleaned["model"], estimated_cost=estimate.cost, reason=estimate.reason
    )
