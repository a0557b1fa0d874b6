"""The simulated model catalog and the deterministic cost of a job.

Capabilities and SKUs are modelled on the real providers' shapes so client code meets the
same variety it will meet in production: per-second prices by resolution, a flat price per
generation, per-second prices with an audio variant, per-clip prices by duration.

Cost of a completed job (USD, rounded half-up to 6 decimal places)::

    cost = flat + duration * rate

    duration = request.duration, else the model's first supported duration, else 5
    res      = request.resolution, else derived from request.size (short side: 720 -> 720p),
               else the model's first supported resolution
    audio    = request.generate_audio, else the model's generate_audio flag (false if null)
    flat     = SKU "per_video_<duration>s" if present, else SKU "generate" if present, else 0
    rate     = the first SKU present among
               "per_second_<res>_audio" (audio only), "per_second_audio" (audio only),
               "per_second_<res>", "per_second"; else 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
RESOLUTIONS = ("480p", "720p", "768p", "1080p", "1K", "2K", "4K")
FRAME_TYPES = ("first_frame", "last_frame")
DEFAULT_DURATION = 5
_COST_QUANTUM = Decimal("0.000001")
# Short side of a frame -> resolution label, for requests that give a size.
_SHORT_SIDE_TO_RESOLUTION = {
    480: "480p",
    720: "720p",
    768: "768p",
    1080: "1080p",
    1440: "2K",
    2160: "4K",
}


@dataclass(frozen=True)
class VideoModelSpec:
    """One model the simulator serves: its ``VideoModel`` JSON and its validation rules."""

    id: str
    name: str
    description: str
    created: int
    # Provider slug used as the key under provider.options in requests.
    provider_slug: str
    supported_durations: tuple[int, ...] | None
    supported_resolutions: tuple[str, ...] | None
    supported_aspect_ratios: tuple[str, ...] | None
    supported_sizes: tuple[str, ...] | None
    supported_frame_images: tuple[str, ...] | None
    generate_audio: bool | None
    seed: bool | None
    pricing_skus: dict[str, str] | None
    allowed_passthrough_parameters: tuple[str, ...] = ()
    hugging_face_id: str | None = None
    _json: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_json", self._build_json())

    def _build_json(self) -> dict[str, Any]:
        def lst(value: tuple | None) -> list | None:
            return list(value) if value is not None else None

        return {
            "id": self.id,
            "canonical_slug": self.id,
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "hugging_face_id": self.hugging_face_id,
            "supported_durations": lst(self.supported_durations),
            "supported_resolutions": lst(self.supported_resolutions),
            "supported_aspect_ratios": lst(self.supported_aspect_ratios),
            "supported_sizes": lst(self.supported_sizes),
            "supported_frame_images": lst(self.supported_frame_images),
            "generate_audio": self.generate_audio,
            "seed": self.seed,
            "pricing_skus": dict(self.pricing_skus) if self.pricing_skus is not None else None,
            "allowed_passthrough_parameters": list(self.allowed_passthrough_parameters),
            # Upscaling-only properties: null for every generation model.
            "upscale_factor": None,
            "creativity": None,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``VideoModel`` object served by ``GET /videos/models`` (built once)."""
        return self._json

    @property
    def supports_frame_images(self) -> bool:
        return bool(self.supported_frame_images)


DEFAULT_MODELS: tuple[VideoModelSpec, ...] = (
    VideoModelSpec(
        id="google/veo-3.1",
        name="Google: Veo 3.1",
        description="Google's video model with native audio; first and last frame control.",
        created=1760054400,
        provider_slug="google-vertex",
        supported_durations=(4, 6, 8),
        supported_resolutions=("720p", "1080p"),
        supported_aspect_ratios=("16:9", "9:16"),
        supported_sizes=None,
        supported_frame_images=("first_frame", "last_frame"),
        generate_audio=True,
        seed=True,
        pricing_skus={"per_second": "0.20", "per_second_audio": "0.40"},
        allowed_passthrough_parameters=("negative_prompt", "person_generation"),
    ),
    VideoModelSpec(
        id="openai/sora-2",
        name="OpenAI: Sora 2",
        description="OpenAI's video model with synchronized audio, sized outputs only.",
        created=1759363200,
        provider_slug="openai",
        supported_durations=(4, 8, 12),
        supported_resolutions=("720p",),
        supported_aspect_ratios=("16:9", "9:16"),
        supported_sizes=("1280x720", "720x1280"),
        supported_frame_images=("first_frame",),
        generate_audio=True,
        seed=False,
        pricing_skus={"per_second": "0.10"},
        allowed_passthrough_parameters=(),
    ),
    VideoModelSpec(
        id="bytedance/seedance-1-pro",
        name="ByteDance: Seedance 1.0 Pro",
        description="ByteDance's silent video model, many aspect ratios, priced by resolution.",
        created=1750291200,
        provider_slug="byteplus",
        supported_durations=(5, 10),
        supported_resolutions=("480p", "720p", "1080p"),
        supported_aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
        supported_sizes=None,
        supported_frame_images=("first_frame", "last_frame"),
        generate_audio=False,
        seed=True,
        pricing_skus={
            "per_second_480p": "0.03",
            "per_second_720p": "0.10",
            "per_second_1080p": "0.15",
        },
        allowed_passthrough_parameters=("camera_fixed", "watermark"),
    ),
    VideoModelSpec(
        id="kwaivgi/kling-2.1",
        name="Kling: Kling 2.1",
        description="Kling image-to-video: animate a first frame; the prompt is optional.",
        created=1748822400,
        provider_slug="kling",
        supported_durations=(5, 10),
        supported_resolutions=("720p", "1080p"),
        supported_aspect_ratios=("16:9", "9:16", "1:1"),
        supported_sizes=None,
        supported_frame_images=("first_frame",),
        generate_audio=None,
        seed=None,
        pricing_skus={"per_video_5s": "0.45", "per_video_10s": "0.90"},
        allowed_passthrough_parameters=("cfg_scale", "negative_prompt"),
    ),
    VideoModelSpec(
        id="minimax/hailuo-02",
        name="MiniMax: Hailuo 02",
        description="MiniMax text-to-video at a flat price per generation.",
        created=1749686400,
        provider_slug="minimax",
        supported_durations=(6, 10),
        supported_resolutions=("768p", "1080p"),
        supported_aspect_ratios=("16:9",),
        supported_sizes=None,
        supported_frame_images=None,
        generate_audio=False,
        seed=None,
        pricing_skus={"generate": "0.50"},
        allowed_passthrough_parameters=("prompt_optimizer",),
    ),
)


class Catalog:
    """The models one simulator serves, by id, with their JSON list prebuilt."""

    def __init__(self, models: tuple[VideoModelSpec, ...] | None = None) -> None:
        self.models: tuple[VideoModelSpec, ...] = tuple(models or DEFAULT_MODELS)
        self._by_id = {m.id: m for m in self.models}
        self.list_json: dict[str, Any] = {"data": [m.to_json() for m in self.models]}

    def get(self, model_id: str) -> VideoModelSpec | None:
        return self._by_id.get(model_id)

    def __iter__(self):
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1280x720"`` -> ``(1280, 720)``; None when not ``WIDTHxHEIGHT`` with positive ints."""
    width, sep, height = size.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        return None
    return w, h


def resolution_for_size(width: int, height: int) -> str | None:
    return _SHORT_SIDE_TO_RESOLUTION.get(min(width, height))


def aspect_ratio_for_size(width: int, height: int) -> str | None:
    """The spec aspect ratio within 2 % of ``width/height`` (854x480 counts as 16:9)."""
    ratio = width / height
    for label in ASPECT_RATIOS:
        a, b = (int(x) for x in label.split(":"))
        if math.isclose(ratio, a / b, rel_tol=0.02):
            return label
    return None


def effective_duration(model: VideoModelSpec, request: dict[str, Any]) -> int:
    duration = request.get("duration")
    if isinstance(duration, int) and not isinstance(duration, bool):
        return duration
    if model.supported_durations:
        return model.supported_durations[0]
    return DEFAULT_DURATION


def effective_resolution(model: VideoModelSpec, request: dict[str, Any]) -> str | None:
    resolution = request.get("resolution")
    if isinstance(resolution, str):
        return resolution
    size = request.get("size")
    parsed = parse_size(size) if isinstance(size, str) else None
    if parsed is not None:
        derived = resolution_for_size(*parsed)
        if derived is not None:
            return derived
    if model.supported_resolutions:
        return model.supported_resolutions[0]
    return None


def effective_audio(model: VideoModelSpec, request: dict[str, Any]) -> bool:
    audio = request.get("generate_audio")
    if isinstance(audio, bool):
        return audio
    return bool(model.generate_audio)


def compute_cost(model: VideoModelSpec, request: dict[str, Any]) -> Decimal:
    """USD cost of a validated request (formula in the module docstring)."""
    skus = model.pricing_skus or {}
    duration = effective_duration(model, request)
    resolution = effective_resolution(model, request)
    audio = effective_audio(model, request)

    flat = Decimal(skus.get(f"per_video_{duration}s") or skus.get("generate") or "0")
    candidates = []
    if audio:
        candidates += [f"per_second_{resolution}_audio", "per_second_audio"]
    candidates += [f"per_second_{resolution}", "per_second"]
    rate = next((Decimal(skus[name]) for name in candidates if name in skus), Decimal("0"))
    return (flat + duration * rate).quantize(_COST_QUANTUM, rounding=ROUND_HALF_UP)
