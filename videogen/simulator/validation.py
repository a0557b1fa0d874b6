"""Validation of a ``VideoGenerationRequest`` against the spec and the model's capabilities.

The real API rejects out-of-set values with a 400, so the simulator is strict: a client that
passes here sends only what the catalog advertises. Every failure names the field and the
accepted values, so the message is useful in a log line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .catalog import (
    ASPECT_RATIOS,
    FRAME_TYPES,
    RESOLUTIONS,
    Catalog,
    VideoModelSpec,
    aspect_ratio_for_size,
    parse_size,
    resolution_for_size,
)
from .config import SimulatorConfig

_PART_TYPES = ("image_url", "audio_url", "video_url")


class RequestError(Exception):
    """A request the API answers with an error status (400 unless told otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _fmt(values: tuple | list | None) -> str:
    return ", ".join(str(v) for v in values or ())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_request(
    body: Any, *, catalog: Catalog, config: SimulatorConfig
) -> tuple[VideoModelSpec, dict[str, Any]]:
    """Return ``(model, body)`` for a valid request; raise ``RequestError`` otherwise."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise RequestError("'model' is required and must be a string")
    model = catalog.get(model_id)
    if model is None:
        raise RequestError(f"model {model_id!r} is not a video generation model")

    for name in ("creativity", "upscale_factor"):
        if name in body:
            raise RequestError(f"'{name}' is only supported by video upscaling models")

    _check_duration(model, body.get("duration"))
    resolution = _check_enum(
        "resolution", body.get("resolution"), RESOLUTIONS, model.supported_resolutions
    )
    aspect = _check_enum(
        "aspect_ratio", body.get("aspect_ratio"), ASPECT_RATIOS, model.supported_aspect_ratios
    )
    _check_size(model, body.get("size"), resolution, aspect)
    _check_flags(model, body)
    has_frame = _check_frame_images(model, body.get("frame_images"))
    _check_input_references(body.get("input_references"))
    _check_provider(model, body.get("provider"))
    _check_callback(body.get("callback_url"), config)

    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise RequestError("'prompt' must be a string")
    if not (prompt or "").strip() and not has_frame:
        if model.supports_frame_images:
            raise RequestError(f"'prompt' is required for {model.id} unless a frame image is given")
        raise RequestError(f"'prompt' is required for {model.id}")
    return model, body


def _check_duration(model: VideoModelSpec, duration: Any) -> None:
    if duration is None:
        return
    if not _is_int(duration):
        raise RequestError("'duration' must be an integer number of seconds")
    if duration < 1:
        raise RequestError("'duration' must be at least 1 second")
    if model.supported_durations is not None and duration not in model.supported_durations:
        raise RequestError(
            f"duration {duration} is not supported by {model.id}; "
            f"supported durations: {_fmt(model.supported_durations)}"
        )


def _check_enum(
    name: str, value: Any, spec_enum: tuple[str, ...], supported: tuple[str, ...] | None
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in spec_enum:
        raise RequestError(f"'{name}' must be one of: {_fmt(spec_enum)}")
    if supported is not None and value not in supported:
        raise RequestError(
            f"{name} {value!r} is not supported by this model; supported: {_fmt(supported)}"
        )
    return value


def _check_size(
    model: VideoModelSpec, size: Any, resolution: str | None, aspect: str | None
) -> None:
    if size is None:
        return
    parsed = parse_size(size) if isinstance(size, str) else None
    if parsed is None:
        raise RequestError("'size' must look like 'WIDTHxHEIGHT', e.g. '1280x720'")
    if model.supported_sizes is not None and size not in model.supported_sizes:
        raise RequestError(
            f"size {size!r} is not supported by {model.id}; "
            f"supported sizes: {_fmt(model.supported_sizes) or 'none'}"
        )
    size_res = resolution_for_size(*parsed)
    size_aspect = aspect_ratio_for_size(*parsed)
    # size is interchangeable with resolution + aspect_ratio: when both are given they must agree.
    if resolution is not None and size_res != resolution:
        raise RequestError(f"size {size!r} conflicts with resolution {resolution!r}")
    if aspect is not None and size_aspect != aspect:
        raise RequestError(f"size {size!r} conflicts with aspect_ratio {aspect!r}")
    if model.supported_sizes is None:
        if size_res is None or (
            model.supported_resolutions is not None and size_res not in model.supported_resolutions
        ):
            raise RequestError(
                f"size {size!r} does not match a resolution supported by {model.id}: "
                f"{_fmt(model.supported_resolutions)}"
            )
        if size_aspect is None or (
            model.supported_aspect_ratios is not None
            and size_aspect not in model.supported_aspect_ratios
        ):
            raise RequestError(
                f"size {size!r} does not match an aspect ratio supported by {model.id}: "
                f"{_fmt(model.supported_aspect_ratios)}"
            )


def _check_flags(model: VideoModelSpec, body: dict[str, Any]) -> None:
    audio = body.get("generate_audio")
    if audio is not None:
        if not isinstance(audio, bool):
            raise RequestError("'generate_audio' must be a boolean")
        if audio and model.generate_audio is not True:
            raise RequestError(f"{model.id} does not support generate_audio")
    seed = body.get("seed")
    if seed is not None:
        if not _is_int(seed):
            raise RequestError("'seed' must be an integer")
        if model.seed is not True:
            raise RequestError(f"{model.id} does not support seed")


def _url_of(part: Any, key: str, where: str) -> str:
    inner = part.get(key)
    url = inner.get("url") if isinstance(inner, dict) else None
    if not isinstance(url, str) or not url:
        raise RequestError(f"{where} needs '{key}': {{'url': <string>}}")
    return url


def _check_frame_images(model: VideoModelSpec, frames: Any) -> bool:
    if frames is None:
        return False
    if not isinstance(frames, list):
        raise RequestError("'frame_images' must be an array")
    if frames and not model.supports_frame_images:
        raise RequestError(f"{model.id} does not support frame_images")
    seen: set[str] = set()
    for i, frame in enumerate(frames):
        where = f"frame_images[{i}]"
        if not isinstance(frame, dict) or frame.get("type") != "image_url":
            raise RequestError(f"{where} must be an object with type 'image_url'")
        _url_of(frame, "image_url", where)
        frame_type = frame.get("frame_type")
        if frame_type not in FRAME_TYPES:
            raise RequestError(f"{where}.frame_type must be one of: {_fmt(FRAME_TYPES)}")
        if frame_type not in (model.supported_frame_images or ()):
            raise RequestError(
                f"frame_type {frame_type!r} is not supported by {model.id}; "
                f"supported: {_fmt(model.supported_frame_images)}"
            )
        if frame_type in seen:
            raise RequestError(f"frame_type {frame_type!r} given more than once")
        seen.add(frame_type)
    return bool(frames)


def _check_input_references(refs: Any) -> None:
    if refs is None:
        return
    if not isinstance(refs, list):
        raise RequestError("'input_references' must be an array")
    for i, ref in enumerate(refs):
        where = f"input_references[{i}]"
        kind = ref.get("type") if isinstance(ref, dict) else None
        if kind not in _PART_TYPES:
            raise RequestError(f"{where}.type must be one of: {_fmt(_PART_TYPES)}")
        _url_of(ref, kind, where)


def _passthrough_keys(options: dict[str, Any]) -> list[str]:
    # Accept both {slug: {parameters: {...}}} and the spec example's {slug: {...}}.
    params = options.get("parameters")
    if len(options) == 1 and isinstance(params, dict):
        return list(params)
    return list(options)


def _check_provider(model: VideoModelSpec, provider: Any) -> None:
    if provider is None:
        return
    if not isinstance(provider, dict):
        raise RequestError("'provider' must be an object")
    options = provider.get("options")
    if options is None:
        return
    if not isinstance(options, dict):
        raise RequestError("'provider.options' must be an object keyed by provider slug")
    allowed = set(model.allowed_passthrough_parameters)
    # Strict on purpose: every slug's keys are checked, so a typo is a 400, not a silent drop.
    for slug, slug_options in options.items():
        if not isinstance(slug_options, dict):
            raise RequestError(f"'provider.options.{slug}' must be an object")
        rejected = sorted(k for k in _passthrough_keys(slug_options) if k not in allowed)
        if rejected:
            raise RequestError(
                f"passthrough parameter(s) {_fmt(rejected)} not allowed for {model.id}; "
                f"allowed: {_fmt(model.allowed_passthrough_parameters) or 'none'}"
            )


def _check_callback(url: Any, config: SimulatorConfig) -> None:
    if url is None:
        return
    if not isinstance(url, str):
        raise RequestError("'callback_url' must be a string")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as err:
        raise RequestError(f"'callback_url' is not a valid URL: {err}") from err
    if parts.scheme not in ("http", "https") or not host:
        raise RequestError("'callback_url' must be an absolute https:// URL")
    if parts.scheme == "http" and not (
        config.allow_http_callbacks or host in config.http_callback_hosts
    ):
        raise RequestError("'callback_url' must use HTTPS")
