"""Validation of a video job request before it is saved or sent to the provider.

``validate_job_request(data)`` checks a ``VideoGenerationRequest`` body twice: against the
provider's schema (types, enums, shapes, limits) and against what the chosen model says it
supports in the local catalog (``VideoModel``). The provider answers out-of-set values with a
400; catching them here gives the user every problem at once, with the allowed values named.

The result uses exactly the ``VideoJob`` request field names, with omitted values normalised
("" for strings, ``None`` for duration/seed/generate_audio/provider, ``[]`` for lists), so it can
be passed straight to ``VideoJob(**cleaned)``. A JSON ``null`` (and "" for the optional strings)
counts as omitted.

No DNS lookups and no HTTP happen here: hosts are judged by their literal form only.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from videogen import hygiene
from videogen.conf import videogen_settings
from videogen.models import AspectRatio, FrameType, Resolution, VideoJob, VideoModel

# --- limits ----------------------------------------------------------------------------------
# Largest data: URL (as sent, base64 and all) in frame_images / input_references.
MAX_DATA_URL_BYTES = 10 * 1024 * 1024
# Largest JSON-encoded request; the provider answers 413 above 50 MiB, keep a margin.
MAX_REQUEST_BYTES = 45 * 1024 * 1024
MAX_PROMPT_CHARS = 20_000
# No provider generates hours of video per request; the column is a 32-bit integer.
MAX_DURATION_SECONDS = 3600
MAX_FRAME_IMAGES = 2
MAX_INPUT_REFERENCES = 8
# Longest http(s) URL accepted for a reference (Django's URLValidator default).
MAX_REMOTE_URL_CHARS = 2048
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1

# --- the request's shape ---------------------------------------------------------------------
REQUEST_FIELDS = (
    "model",
    "prompt",
    "aspect_ratio",
    "duration",
    "resolution",
    "size",
    "seed",
    "generate_audio",
    "frame_images",
    "input_references",
    "provider",
    "callback_url",
)
# In the provider's schema, but only meaningful for video *upscaling* models.
UPSCALING_ONLY_FIELDS = ("creativity", "upscale_factor")

# Enum fields: the values the spec allows, and the catalog column that narrows them per model.
ENUMS: dict[str, list[str]] = {
    "aspect_ratio": AspectRatio.values,
    "resolution": Resolution.values,
}
CAPABILITY_COLUMNS = {
    "aspect_ratio": "supported_aspect_ratios",
    "resolution": "supported_resolutions",
    "duration": "supported_durations",
    "size": "supported_sizes",
}
FRAME_TYPES: list[str] = FrameType.values
# input_references part type -> the media type its data: URL must carry.
REFERENCE_KINDS = {"image_url": "image", "audio_url": "audio", "video_url": "video"}

SIZE_RE = re.compile(r"[0-9]{2,5}x[0-9]{2,5}")
_MIME_PART = r"[a-z0-9!#$&^_.+-]+"
DATA_URL_RE = re.compile(
    rf"data:(?P<mime>{_MIME_PART}/{_MIME_PART})(?:;{_MIME_PART}=[^;,]*)*;base64,(?P<payload>.*)",
    re.IGNORECASE | re.DOTALL,
)
BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MODEL_ID_MAX_LENGTH = VideoModel._meta.get_field("model_id").max_length
_CALLBACK_URL_MAX_LENGTH = VideoJob._meta.get_field("callback_url").max_length
# Text fields: (longest value, may span lines). Every other string passes the hygiene rule
# with no length of its own (the request's size bounds it) before its field's checks.
TEXT_FIELDS: dict[str, tuple[int, bool]] = {
    "model": (_MODEL_ID_MAX_LENGTH, False),
    "prompt": (MAX_PROMPT_CHARS, True),
    "callback_url": (_CALLBACK_URL_MAX_LENGTH, False),
}
_MAX_LISTED_MODELS = 50


def _check_text(data: Mapping[str, Any], errors: _Errors) -> set[Any]:
    """The text-hygiene rule (``videogen.hygiene``) on every key and string of the request,
    and each text field's own length and line rule. Returns the keys refused: their other
    checks are skipped, so nothing hostile is looked up, echoed back or stored."""
    refused: set[Any] = {
        key for key in data if isinstance(key, str) and hygiene.text_problem(key, multiline=False)
    }
    for key, path, problem in hygiene.object_problems(dict(data)):
        field = key if key is not None else NON_FIELD_ERRORS
        message = problem.message if path == key else f"{path}: {problem.message}"
        errors.add(field, "%(message)s", problem.code, message=message)
        refused.add(key)
    for field, (limit, multiline) in TEXT_FIELDS.items():
        value = data.get(field)
        if field in refused or not isinstance(value, str):
            continue
        if problem := hygiene.text_problem(value, max_length=limit, multiline=multiline):
            errors.add(field, problem.message, problem.code)
            refused.add(field)
    return refused


def validate_job_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the cleaned request, or raise ``ValidationError({field: [errors…]})``.

    Every field is checked and every problem is reported in one go; each error carries a
    stable ``code`` (see the module's ``_Errors.add`` callers) for clients to branch on.
    """
    errors = _Errors()
    if not isinstance(data, Mapping):
        errors.add(NON_FIELD_ERRORS, _("The request must be a JSON object."), "invalid_type")
        errors.raise_if_any()

    refused = _check_text(data, errors)
    data = {key: value for key, value in data.items() if key not in refused}
    _check_keys(data, errors)
    _check_request_size(data, errors)
    model = None if "model" in refused else _lookup_model(data.get("model"), errors)

    cleaned: dict[str, Any] = {
        "model": model.model_id if model is not None else "",
        "prompt": _clean_prompt(data.get("prompt"), errors),
        "aspect_ratio": _clean_choice("aspect_ratio", data.get("aspect_ratio"), model, errors),
        "duration": _clean_duration(data.get("duration"), model, errors),
        "resolution": _clean_choice("resolution", data.get("resolution"), model, errors),
        "size": _clean_size(data.get("size"), model, errors),
        "seed": _clean_seed(data.get("seed"), model, errors),
        "generate_audio": _clean_generate_audio(data.get("generate_audio"), model, errors),
        "frame_images": _clean_frame_images(data.get("frame_images"), model, errors),
        "input_references": _clean_input_references(data.get("input_references"), errors),
        "provider": _clean_provider(data.get("provider"), model, errors),
        "callback_url": _clean_callback_url(data.get("callback_url"), errors),
    }
    _check_size_excludes_resolution(cleaned, errors)
    _check_prompt_required(data, cleaned, model, errors)

    errors.raise_if_any()
    return cleaned


class _Errors:
    """Collects ``{field: [ValidationError]}`` so every problem is reported at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[ValidationError]] = {}

    def add(self, key: str, message: str, code: str, /, **params: Any) -> None:
        error = ValidationError(message, code=code, params=params or None)
        self.by_field.setdefault(key, []).append(error)

    def __contains__(self, field: str) -> bool:
        return field in self.by_field

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def _simulator() -> bool:
    return bool(videogen_settings.SIMULATOR)


# --- whole request ---------------------------------------------------------------------------


def _check_keys(data: Mapping[Any, Any], errors: _Errors) -> None:
    for key in data:
        if key in REQUEST_FIELDS:
            continue
        if key in UPSCALING_ONLY_FIELDS:
            errors.add(
                key,
                _(
                    "%(field)s is only accepted by video upscaling models; "
                    "video generation models do not support it. Remove it from the request."
                ),
                "upscaling_only",
                field=key,
            )
        else:
            errors.add(
                str(key),
                _("Unknown field “%(field)s”. Allowed fields: %(allowed)s."),
                "unknown_field",
                field=key,
                allowed=_join(REQUEST_FIELDS),
            )


def _check_request_size(data: Mapping[Any, Any], errors: _Errors) -> None:
    try:
        encoded = json.dumps(data, separators=(",", ":"), default=str).encode()
    except (TypeError, ValueError, RecursionError):
        return  # not JSON at all (e.g. non-string keys): the field checks say what is wrong
    if len(encoded) > MAX_REQUEST_BYTES:
        errors.add(
            NON_FIELD_ERRORS,
            _(
                "The request is %(size)s MiB; at most %(limit)s MiB is accepted. "
                "Use https:// URLs instead of data: URLs for large inputs."
            ),
            "too_large",
            size=f"{len(encoded) / 2**20:.1f}",
            limit=MAX_REQUEST_BYTES // 2**20,
        )


def _lookup_model(value: Any, errors: _Errors) -> VideoModel | None:
    if value is None or value == "":
        errors.add("model", _("Choose a model."), "required")
        return None
    if not isinstance(value, str):
        errors.add("model", _("model must be a string, e.g. “google/veo-3.1”."), "invalid_type")
        return None
    found = VideoModel.objects.filter(model_id=value, is_active=True).first()
    if found is not None:
        return found
    active = list(
        VideoModel.objects.filter(is_active=True)
        .order_by("model_id")
        .values_list("model_id", flat=True)[: _MAX_LISTED_MODELS + 1]
    )
    if not active:
        errors.add(
            "model",
            _(
                "The model catalog is empty, so no model can be checked. "
                "Run “python manage.py videogen_sync_models” to load it from the provider."
            ),
            "catalog_empty",
        )
        return None
    listed = _join(active[:_MAX_LISTED_MODELS]) + (
        ", …" if len(active) > _MAX_LISTED_MODELS else ""
    )
    retired = VideoModel.objects.filter(model_id=value).exists()
    message = (
        _("Model “%(model)s” is no longer offered. Available models: %(allowed)s.")
        if retired
        else _("Unknown model “%(model)s”. Available models: %(allowed)s.")
    )
    errors.add("model", message, "unknown_model", model=value, allowed=listed)
    return None


# --- scalar fields ---------------------------------------------------------------------------


def _check_capability(field: str, value: Any, model: VideoModel | None, errors: _Errors) -> None:
    """A value the spec allows may still be outside what this model supports."""
    if model is None:
        return
    supported = getattr(model, CAPABILITY_COLUMNS[field])
    if supported is None:  # the provider does not restrict this field for the model
        return
    if not supported:
        errors.add(
            field,
            _("Model %(model)s does not accept %(field)s."),
            "unsupported_by_model",
            model=model.model_id,
            field=field,
        )
    elif value not in supported:
        errors.add(
            field,
            _("Model %(model)s does not support %(field)s %(value)s. Supported: %(allowed)s."),
            "unsupported_by_model",
            model=model.model_id,
            field=field,
            value=value,
            allowed=_join(supported),
        )


def _clean_prompt(value: Any, errors: _Errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add("prompt", _("prompt must be text."), "invalid_type")
        return ""
    return value  # its characters and length: _check_text


def _clean_choice(field: str, value: Any, model: VideoModel | None, errors: _Errors) -> str:
    if value is None or value == "":
        return ""
    allowed = ENUMS[field]
    if not isinstance(value, str):
        errors.add(
            field,
            _("%(field)s must be a string, one of: %(allowed)s."),
            "invalid_type",
            field=field,
            allowed=_join(allowed),
        )
        return ""
    if value not in allowed:
        errors.add(
            field,
            _("“%(value)s” is not a valid %(field)s. Choose one of: %(allowed)s."),
            "invalid_choice",
            value=value,
            field=field,
            allowed=_join(allowed),
        )
        return ""
    _check_capability(field, value, model, errors)
    return value


def _clean_duration(value: Any, model: VideoModel | None, errors: _Errors) -> int | None:
    if value is None:
        return None
    if not _is_int(value):
        errors.add("duration", _("duration must be a whole number of seconds."), "invalid_type")
        return None
    if value < 1:
        errors.add("duration", _("duration must be at least 1 second."), "min_value")
        return None
    if value > MAX_DURATION_SECONDS:
        errors.add(
            "duration",
            _("duration must be at most %(max)s seconds.") % {"max": MAX_DURATION_SECONDS},
            "max_value",
        )
        return None
    _check_capability("duration", value, model, errors)
    return value


def _clean_size(value: Any, model: VideoModel | None, errors: _Errors) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not SIZE_RE.fullmatch(value):
        errors.add(
            "size",
            _("size must be “WIDTHxHEIGHT” in pixels, e.g. “1280x720”."),
            "invalid_format",
        )
        return ""
    if model is not None and model.supported_sizes is None:
        errors.add(
            "size",
            _(
                "Model %(model)s does not take an exact size; "
                "use resolution and aspect_ratio instead."
            ),
            "unsupported_by_model",
            model=model.model_id,
        )
        return value
    _check_capability("size", value, model, errors)
    return value


def _clean_seed(value: Any, model: VideoModel | None, errors: _Errors) -> int | None:
    if value is None:
        return None
    if not _is_int(value):
        errors.add("seed", _("seed must be a whole number."), "invalid_type")
        return None
    if not SEED_MIN <= value <= SEED_MAX:
        errors.add(
            "seed",
            _("seed must be between %(min)s and %(max)s."),
            "out_of_range",
            min=SEED_MIN,
            max=SEED_MAX,
        )
        return None
    if model is not None and model.seed is not True:
        errors.add(
            "seed",
            _("Model %(model)s does not support a seed; remove it."),
            "unsupported_by_model",
            model=model.model_id,
        )
    return value


def _clean_generate_audio(value: Any, model: VideoModel | None, errors: _Errors) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        errors.add("generate_audio", _("generate_audio must be true or false."), "invalid_type")
        return None
    if value and model is not None and model.generate_audio is not True:
        errors.add(
            "generate_audio",
            _("Model %(model)s cannot generate audio; set generate_audio to false or omit it."),
            "unsupported_by_model",
            model=model.model_id,
        )
    return value


def _check_size_excludes_resolution(cleaned: dict[str, Any], errors: _Errors) -> None:
    if not cleaned["size"]:
        return
    clashing = [name for name in ("resolution", "aspect_ratio") if cleaned[name]]
    if clashing:
        errors.add(
            "size",
            _(
                "Give either size or resolution + aspect_ratio, not both "
                "(size was given together with %(fields)s)."
            ),
            "conflict",
            fields=" and ".join(clashing),
        )


def _check_prompt_required(
    data: Mapping[str, Any], cleaned: dict[str, Any], model: VideoModel | None, errors: _Errors
) -> None:
    if cleaned["prompt"].strip() or "prompt" in errors:
        return
    has_frames = bool(data.get("frame_images"))
    if has_frames and (model is None or model.supported_frame_images):
        return  # an image-to-video request: the frames stand in for the prompt
    if has_frames:
        message = _("Model %(model)s needs a prompt: it does not take frame images.")
    else:
        message = _("Describe the video in a prompt (or give a first/last frame image).")
    errors.add("prompt", message, "required", model=model.model_id if model else "")


# --- frame images and references -------------------------------------------------------------


def _clean_frame_images(value: Any, model: VideoModel | None, errors: _Errors) -> list[dict]:
    field = "frame_images"
    items = _check_list(field, value, MAX_FRAME_IMAGES, errors)
    if not items:
        return []
    supported = model.supported_frame_images if model is not None else None
    if model is not None and not supported:
        errors.add(
            field,
            _("Model %(model)s does not accept frame images."),
            "unsupported_by_model",
            model=model.model_id,
        )
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        label = _("Frame image %(index)s") % {"index": index}
        _check_content_part(field, label, item, ("image_url",), ("frame_type",), errors)
        if not isinstance(item, dict) or "frame_type" not in item:
            continue  # reported by the shape check
        frame_type = item["frame_type"]
        if not _check_choice_key(field, label, "frame_type", frame_type, FRAME_TYPES, errors):
            continue
        if frame_type in seen:
            errors.add(
                field,
                _("%(label)s: there is already a %(frame_type)s image; give each frame once."),
                "duplicate_frame_type",
                label=label,
                frame_type=frame_type,
            )
        seen.add(frame_type)
        if supported and frame_type not in supported:
            errors.add(
                field,
                _(
                    "%(label)s: model %(model)s does not accept a %(frame_type)s image. "
                    "Supported: %(allowed)s."
                ),
                "unsupported_by_model",
                label=label,
                model=model.model_id,
                frame_type=frame_type,
                allowed=_join(supported),
            )
    return copy.deepcopy(items)


def _clean_input_references(value: Any, errors: _Errors) -> list[dict]:
    field = "input_references"
    items = _check_list(field, value, MAX_INPUT_REFERENCES, errors)
    for index, item in enumerate(items, 1):
        label = _("Reference %(index)s") % {"index": index}
        _check_content_part(field, label, item, tuple(REFERENCE_KINDS), (), errors)
    return copy.deepcopy(items)


def _check_list(field: str, value: Any, limit: int, errors: _Errors) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(field, _("%(field)s must be a list."), "invalid_type", field=field)
        return []
    if len(value) > limit:
        errors.add(
            field,
            _("%(field)s has %(count)s items; at most %(limit)s are allowed."),
            "too_many",
            field=field,
            count=len(value),
            limit=limit,
        )
    return value


def _check_content_part(
    field: str,
    label: str,
    item: Any,
    types: tuple[str, ...],
    extra_keys: tuple[str, ...],
    errors: _Errors,
) -> None:
    """``{type: <t>, <t>: {url}, *extra_keys}``, the spec's ContentPart shapes, no other keys."""
    example = f'{{"type": "{types[0]}", "{types[0]}": {{"url": "https://…"}}}}'
    if not isinstance(item, dict):
        errors.add(
            field,
            _("%(label)s must be an object like %(example)s."),
            "invalid_type",
            label=label,
            example=example,
        )
        return
    if "type" not in item:
        errors.add(field, _("%(label)s: type is required."), "required", label=label)
        return
    part_type = item["type"]
    if not _check_choice_key(field, label, "type", part_type, types, errors):
        return
    expected = {"type", part_type, *extra_keys}
    _check_exact_keys(field, label, item, expected, errors)
    if part_type not in item:
        return  # reported as missing
    inner = item[part_type]
    if not isinstance(inner, dict):
        errors.add(
            field,
            _('%(label)s: %(key)s must be an object like {"url": "https://…"}.'),
            "invalid_type",
            label=label,
            key=part_type,
        )
        return
    _check_exact_keys(field, f"{label}: {part_type}", inner, {"url"}, errors)
    if "url" in inner:
        _check_media_url(field, label, inner["url"], REFERENCE_KINDS[part_type], errors)


def _check_choice_key(
    field: str, label: str, key: str, value: Any, allowed: Sequence[str], errors: _Errors
) -> bool:
    """Whether ``value`` (the item's ``key``) is one of ``allowed``; reported if not."""
    if not isinstance(value, str):
        message = _("%(label)s: %(key)s must be a string, one of: %(allowed)s.")
        errors.add(field, message, "invalid_type", label=label, key=key, allowed=_join(allowed))
        return False
    if value not in allowed:
        message = _("%(label)s: %(key)s must be one of: %(allowed)s.")
        errors.add(field, message, "invalid_choice", label=label, key=key, allowed=_join(allowed))
        return False
    return True


def _check_exact_keys(
    field: str, label: str, obj: dict, expected: set[str], errors: _Errors
) -> None:
    unknown = sorted(str(key) for key in obj if key not in expected)
    if unknown:
        errors.add(
            field,
            _("%(label)s: unknown key(s) %(keys)s. Allowed keys: %(allowed)s."),
            "unknown_field",
            label=label,
            keys=_join(unknown),
            allowed=_join(sorted(expected)),
        )
    for key in sorted(expected - set(obj)):
        errors.add(field, _("%(label)s: %(key)s is required."), "required", label=label, key=key)


def _check_media_url(field: str, label: str, url: Any, kind: str, errors: _Errors) -> None:
    if not isinstance(url, str) or not url:
        errors.add(
            field,
            _("%(label)s: url must be an https:// URL or a data: URL."),
            "invalid_type",
            label=label,
        )
        return
    if url[:5].lower() == "data:":
        _check_data_url(field, label, url, kind, errors)
        return
    if len(url) > MAX_REMOTE_URL_CHARS:
        errors.add(
            field,
            _("%(label)s: the URL is longer than %(limit)s characters."),
            "too_long",
            label=label,
            limit=MAX_REMOTE_URL_CHARS,
        )
        return
    _check_web_url(field, label, url, errors)


def _check_data_url(field: str, label: str, url: str, kind: str, errors: _Errors) -> None:
    size = len(url.encode())
    if size > MAX_DATA_URL_BYTES:
        errors.add(
            field,
            _(
                "%(label)s: the data: URL is %(size)s MiB; at most %(limit)s MiB is allowed. "
                "Host the file and give its https:// URL instead."
            ),
            "too_large",
            label=label,
            size=f"{size / 2**20:.1f}",
            limit=MAX_DATA_URL_BYTES // 2**20,
        )
        return
    match = DATA_URL_RE.fullmatch(url)
    if match is None or not BASE64_RE.fullmatch(match["payload"]):
        errors.add(
            field,
            _("%(label)s: a data: URL must look like data:%(kind)s/<type>;base64,<data>."),
            "invalid_url",
            label=label,
            kind=kind,
        )
        return
    if match["mime"].split("/", 1)[0].lower() != kind:
        errors.add(
            field,
            _("%(label)s: expected %(kind)s data, got %(mime)s."),
            "invalid_url",
            label=label,
            kind=kind,
            mime=match["mime"],
        )


def _check_web_url(field: str, label: str, url: str, errors: _Errors) -> str | None:
    """An https:// URL (http:// too with the simulator). Returns its host when valid."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "http" and not _simulator():
        errors.add(
            field,
            _("%(label)s: use https://, not http://."),
            "insecure_url",
            label=label,
        )
        return None
    schemes = ["http", "https"] if _simulator() else ["https"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        errors.add(
            field,
            _("%(label)s: not a valid URL; expected %(schemes)s://host/path."),
            "invalid_url",
            label=label,
            schemes=" or ".join(schemes),
        )
        return None
    return urlsplit(url).hostname


# --- provider passthrough --------------------------------------------------------------------


def _clean_provider(value: Any, model: VideoModel | None, errors: _Errors) -> dict | None:
    field = "provider"
    if value is None:
        return None
    shape = _('{"options": {"<provider slug>": {"parameters": {…}}}}')
    if not isinstance(value, dict):
        errors.add(
            field, _("provider must be an object like %(shape)s."), "invalid_type", shape=shape
        )
        return None
    unknown = sorted(str(key) for key in value if key != "options")
    if unknown:
        errors.add(
            field,
            _("provider: unknown key(s) %(keys)s; only “options” is allowed."),
            "unknown_field",
            keys=_join(unknown),
        )
    options = value.get("options")
    if options is None:
        return None
    if not isinstance(options, dict):
        errors.add(
            field,
            _("provider.options must be an object like %(shape)s."),
            "invalid_type",
            shape=shape,
        )
        return None
    for slug, entry in options.items():
        params = _provider_parameters(slug, entry, errors)
        if params is not None and model is not None:
            _check_passthrough(slug, params, model, errors)
    return copy.deepcopy(value) if options else None


def _provider_parameters(slug: Any, entry: Any, errors: _Errors) -> dict | None:
    """Accepts ``{slug: {parameters: {...}}}`` and the flat ``{slug: {...}}``."""
    if not isinstance(slug, str) or not slug:
        errors.add("provider", _("provider.options keys must be provider slugs."), "invalid_type")
        return None
    if not isinstance(entry, dict):
        errors.add(
            "provider",
            _("provider.options.%(slug)s must be an object of parameters."),
            "invalid_type",
            slug=slug,
        )
        return None
    if set(entry) == {"parameters"}:
        if not isinstance(entry["parameters"], dict):
            errors.add(
                "provider",
                _("provider.options.%(slug)s.parameters must be an object."),
                "invalid_type",
                slug=slug,
            )
            return None
        return entry["parameters"]
    return entry


def _check_passthrough(slug: str, params: dict, model: VideoModel, errors: _Errors) -> None:
    allowed = model.allowed_passthrough_parameters or []
    rejected = sorted(str(key) for key in params if key not in allowed)
    if not rejected:
        return
    if allowed:
        message = _(
            "provider.options.%(slug)s: model %(model)s does not accept %(keys)s. "
            "Allowed parameters: %(allowed)s."
        )
    else:
        message = _(
            "provider.options.%(slug)s: model %(model)s accepts no provider parameters "
            "(got %(keys)s)."
        )
    errors.add(
        "provider",
        message,
        "unsupported_by_model",
        slug=slug,
        model=model.model_id,
        keys=_join(rejected),
        allowed=_join(allowed),
    )


# --- callback URL ----------------------------------------------------------------------------


def _clean_callback_url(value: Any, errors: _Errors) -> str:
    field = "callback_url"
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        errors.add(field, _("callback_url must be a URL string."), "invalid_type")
        return ""
    host = _check_web_url(field, "callback_url", value, errors)
    if host is not None and not _simulator() and _is_private_host(host):
        errors.add(
            field,
            _(
                "callback_url points at %(host)s, a local or private address the provider "
                "cannot reach. Use a public https:// URL."
            ),
            "private_url",
            host=host,
        )
    return value


def _is_private_host(host: str) -> bool:
    """True for ``localhost``/``*.localhost`` and non-public literal IPs. Never resolves DNS."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a DNS name: judged by its form only
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_multicast
        or not ip.is_global
    )
