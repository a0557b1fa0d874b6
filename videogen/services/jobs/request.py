"""The video job request: ONE declarative description of its fields, and what derives from it.

``REQUEST_SCHEMA`` lists the fields of a ``VideoGenerationRequest`` as the provider's spec
gives them (type, limits, choices) and, for each, how a model's catalog entry (``VideoModel``)
narrows it (``capability``: the durations, resolutions, aspect ratios, sizes and frame types
it lists, whether it generates audio or takes a seed, which passthrough parameters it allows).
Everything else is derived from that table:

- ``validate_job_request(data)`` (here): every problem at once, each with a stable code. The
  provider answers out-of-set values with a 400; catching them here names the allowed values.
- ``request_choices(model)`` (here): what a model offers per field, for adaptive forms.
- the API's request serializers (``videogen.api.serializers``), which validate through
  ``validate_job_request`` and document each field with its enum and limits;
- the pages' "New video" form (``videogen.forms.JobRequestForm``).

The cleaned request uses exactly the ``VideoJob`` request field names, with omitted values
normalised ("" for strings, ``None`` for duration/seed/generate_audio/provider, ``[]`` for
lists), so it can be passed straight to ``VideoJob(**cleaned)``. A JSON ``null`` (and "" for
the optional strings) counts as omitted. No DNS lookups and no HTTP happen here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from videogen import hygiene
from videogen.models import AspectRatio, FrameType, Resolution, VideoJob, VideoModel
from videogen.services.jobs.request_checks import (
    DATA_URL_RE,
    MAX_REMOTE_URL_CHARS,
    PROVIDER_SHAPE,
    REFERENCE_KINDS,
    RequestErrors,
    check_choice_key,
    check_content_part,
    check_list,
    check_web_url,
    is_private_host,
    join,
    provider_options,
    simulator,
)

__all__ = [
    "DATA_URL_RE",
    "MAX_DATA_URL_BYTES",
    "MAX_DURATION_SECONDS",
    "MAX_FRAME_IMAGES",
    "MAX_INPUT_REFERENCES",
    "MAX_PROMPT_CHARS",
    "MAX_REMOTE_URL_CHARS",
    "MAX_REQUEST_BYTES",
    "REFERENCE_KINDS",
    "REQUEST_FIELDS",
    "REQUEST_SCHEMA",
    "JobRequest",
    "request_choices",
    "validate_job_request",
]

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
SEED_MIN, SEED_MAX = hygiene.MIN_INT, hygiene.MAX_INT
SIZE_PATTERN = r"[0-9]{2,5}x[0-9]{2,5}"
SIZE_RE = re.compile(SIZE_PATTERN)
# In the provider's schema, but only meaningful for video *upscaling* models.
UPSCALING_ONLY_FIELDS = ("creativity", "upscale_factor")
_MAX_LISTED_MODELS = 50

_INVALID = object()  # a field's own check failed (reported): it cleans to its omitted value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- capabilities: how a model's catalog entry narrows a field -------------------------------


@dataclass(frozen=True)
class Listed:
    """The catalog ``column`` lists the values the model takes; an empty list: none.
    ``null`` means the provider does not restrict the field, or with ``null_means_none``
    that the model takes none (``null_message`` then says so, and what to do instead)."""

    column: str
    null_means_none: bool = False
    null_message: str = ""

    def allowed(self, model: VideoModel) -> list | None:
        return getattr(model, self.column)

    def check(self, field: str, value: Any, model: VideoModel, errors: RequestErrors) -> None:
        supported = self.allowed(model)
        if supported is None:
            if self.null_means_none:
                errors.add(
                    field, _(self.null_message), "unsupported_by_model", model=model.model_id
                )
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
                allowed=join(supported),
            )

    def choices(self, model: VideoModel, spec: list | None) -> list | None:
        """The values the model offers (in the spec's order when it enumerates them);
        ``None`` when anything the spec allows goes."""
        supported = self.allowed(model)
        if supported is None:
            return [] if self.null_means_none else spec
        return [v for v in spec if v in supported] if spec is not None else list(supported)


@dataclass(frozen=True)
class Flag:
    """The catalog ``column`` is ``true`` when the model supports the field (``null``
    counts as no); any value of the field needs it."""

    column: str
    message: str

    def check(self, field: str, value: Any, model: VideoModel, errors: RequestErrors) -> None:
        if self.applies(value) and getattr(model, self.column) is not True:
            errors.add(field, _(self.message), "unsupported_by_model", model=model.model_id)

    def applies(self, value: Any) -> bool:
        return True

    def choices(self, model: VideoModel, spec: Any) -> bool:
        return getattr(model, self.column) is True


@dataclass(frozen=True)
class FlagWhenTrue(Flag):
    """A flag needed only when the value is ``true`` (``false`` is always fine)."""

    def applies(self, value: Any) -> bool:
        return bool(value)


@dataclass(frozen=True)
class PassthroughKeys:
    """The catalog ``column`` lists the passthrough parameter names the model accepts."""

    column: str

    def allowed(self, model: VideoModel) -> list:
        return list(getattr(model, self.column) or [])

    def check(
        self, field: str, slug: str, params: dict, model: VideoModel, errors: RequestErrors
    ) -> None:
        """The parameters given for one provider ``slug``."""
        allowed = self.allowed(model)
        rejected = sorted(str(key) for key in params if key not in allowed)
        if rejected:
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
                field,
                message,
                "unsupported_by_model",
                slug=slug,
                model=model.model_id,
                keys=join(rejected),
                allowed=join(allowed),
            )

    def choices(self, model: VideoModel, spec: Any) -> list:
        return self.allowed(model)


Capability = Listed | Flag | PassthroughKeys


# --- field kinds -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RequestField:
    """One field of the request: its spec (type, limits, choices), its help for people, and
    the catalog ``capability`` that narrows it per model. ``clean`` checks a value the
    hygiene rule has passed and returns it cleaned (its ``omitted`` value when absent or
    refused); each kind checks its own shape in ``check``."""

    name: str
    help_text: str = ""
    capability: Capability | None = None
    omitted: Any = None

    def is_omitted(self, value: Any) -> bool:
        return value is None

    def clean(self, value: Any, model: VideoModel | None, errors: RequestErrors) -> Any:
        if self.is_omitted(value):
            return self.omitted
        value = self.check(value, errors)
        if value is _INVALID:
            return self.omitted
        if self.capability is not None and model is not None:
            self.capability.check(self.name, value, model, errors)
        return value

    def check(self, value: Any, errors: RequestErrors) -> Any:
        raise NotImplementedError

    @property
    def spec_choices(self) -> list | None:
        """The values the spec enumerates, or ``None`` when it does not."""
        return None

    def choices(self, model: VideoModel | None) -> Any:
        """What ``model`` offers for this field (see ``request_choices``)."""
        if self.capability is None:
            return None
        if model is None:
            return True if isinstance(self.capability, Flag) else self.spec_choices
        return self.capability.choices(model, self.spec_choices)


@dataclass(frozen=True, kw_only=True)
class TextField(RequestField):
    """A string of at most ``max_length`` characters; ``multiline`` allows line breaks."""

    max_length: int
    multiline: bool = False
    type_message: str = ""
    omitted: Any = ""

    def is_omitted(self, value: Any) -> bool:
        return value is None or value == ""

    def check(self, value: Any, errors: RequestErrors) -> Any:
        if not isinstance(value, str):
            errors.add(self.name, _(self.type_message), "invalid_type")
            return _INVALID
        return value  # its characters and length: the hygiene pass (_check_text)


@dataclass(frozen=True, kw_only=True)
class ModelField(TextField):
    """The model id, looked up among the catalog's active models."""

    def lookup(self, value: Any, errors: RequestErrors) -> VideoModel | None:
        if self.is_omitted(value):
            errors.add(self.name, _("Choose a model."), "required")
            return None
        if self.check(value, errors) is _INVALID:
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
                self.name,
                _(
                    "The model catalog is empty, so no model can be checked. "
                    "Run “python manage.py videogen_sync_models” to load it from the provider."
                ),
                "catalog_empty",
            )
            return None
        listed = join(active[:_MAX_LISTED_MODELS]) + (
            ", …" if len(active) > _MAX_LISTED_MODELS else ""
        )
        retired = VideoModel.objects.filter(model_id=value).exists()
        message = (
            _("Model “%(model)s” is no longer offered. Available models: %(allowed)s.")
            if retired
            else _("Unknown model “%(model)s”. Available models: %(allowed)s.")
        )
        errors.add(self.name, message, "unknown_model", model=value, allowed=listed)
        return None


@dataclass(frozen=True, kw_only=True)
class ChoiceField(RequestField):
    """One of the spec's enum ``choices`` (a ``TextChoices``: values and labels)."""

    choices_enum: type[models.TextChoices]
    omitted: Any = ""

    def is_omitted(self, value: Any) -> bool:
        return value is None or value == ""

    @property
    def spec_choices(self) -> list:
        return list(self.choices_enum.values)

    def check(self, value: Any, errors: RequestErrors) -> Any:
        allowed = join(self.spec_choices)
        if not isinstance(value, str):
            errors.add(
                self.name,
                _("%(field)s must be a string, one of: %(allowed)s."),
                "invalid_type",
                field=self.name,
                allowed=allowed,
            )
            return _INVALID
        if value not in self.spec_choices:
            errors.add(
                self.name,
                _("“%(value)s” is not a valid %(field)s. Choose one of: %(allowed)s."),
                "invalid_choice",
                value=value,
                field=self.name,
                allowed=allowed,
            )
            return _INVALID
        return value


@dataclass(frozen=True, kw_only=True)
class IntegerField(RequestField):
    """A whole number (JSON integer: not a bool, float or string) in ``min_value..max_value``.
    ``messages`` holds the field's own wording: ``invalid_type`` and, per bound, a
    ``(code, message)`` pair under ``min_value`` / ``max_value``."""

    min_value: int
    max_value: int
    messages: Mapping[str, Any]

    def check(self, value: Any, errors: RequestErrors) -> Any:
        if not _is_int(value):
            errors.add(self.name, _(self.messages["invalid_type"]), "invalid_type")
            return _INVALID
        for bound, outside in (
            ("min_value", value < self.min_value),
            ("max_value", value > self.max_value),
        ):
            if outside:
                code, message = self.messages[bound]
                errors.add(self.name, _(message), code, min=self.min_value, max=self.max_value)
                return _INVALID
        return value


@dataclass(frozen=True, kw_only=True)
class BooleanField(RequestField):
    def check(self, value: Any, errors: RequestErrors) -> Any:
        if not isinstance(value, bool):
            errors.add(
                self.name, _("%(field)s must be true or false."), "invalid_type", field=self.name
            )
            return _INVALID
        return value


@dataclass(frozen=True, kw_only=True)
class SizeField(RequestField):
    """``"WIDTHxHEIGHT"`` in pixels; interchangeable with resolution + aspect_ratio."""

    pattern: str
    omitted: Any = ""

    def is_omitted(self, value: Any) -> bool:
        return value is None or value == ""

    def check(self, value: Any, errors: RequestErrors) -> Any:
        if not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            errors.add(
                self.name,
                _("size must be “WIDTHxHEIGHT” in pixels, e.g. “1280x720”."),
                "invalid_format",
            )
            return _INVALID
        return value


@dataclass(frozen=True, kw_only=True)
class PartsField(RequestField):
    """A list of at most ``max_items`` content parts ``{type, <type>: {url}}`` whose type is
    one of ``part_types`` (the spec's FrameImage / ContentPart shapes; each URL an https://
    URL or a ``data:`` URL of at most ``MAX_DATA_URL_BYTES``). With ``choice_key`` (frame
    images) each part also names one of ``choices_enum``, once per request, and the
    capability says which names the model takes (null or empty: it takes no frames)."""

    max_items: int
    part_types: tuple[str, ...]
    label: str
    choice_key: str = ""
    choices_enum: type[models.TextChoices] | None = None
    omitted: Any = ()

    @property
    def spec_choices(self) -> list | None:
        return list(self.choices_enum.values) if self.choices_enum else None

    def clean(self, value: Any, model: VideoModel | None, errors: RequestErrors) -> Any:
        if value is None:
            return []
        items = check_list(self.name, value, self.max_items, errors)
        if not items:
            return []
        supported = None
        if self.choice_key and model is not None:
            supported = self.capability.allowed(model)
            if not supported:
                errors.add(
                    self.name,
                    _("Model %(model)s does not accept frame images."),
                    "unsupported_by_model",
                    model=model.model_id,
                )
        extra_keys = (self.choice_key,) if self.choice_key else ()
        seen: set[str] = set()
        for index, item in enumerate(items, 1):
            label = _(self.label) % {"index": index}
            check_content_part(
                self.name,
                label,
                item,
                self.part_types,
                extra_keys,
                errors,
                max_data_url_bytes=MAX_DATA_URL_BYTES,
            )
            if self.choice_key and isinstance(item, dict) and self.choice_key in item:
                self._check_choice(label, item[self.choice_key], seen, supported, model, errors)
        return copy.deepcopy(items)

    def _check_choice(
        self,
        label: str,
        name: Any,
        seen: set[str],
        supported: list | None,
        model: VideoModel | None,
        errors: RequestErrors,
    ) -> None:
        field = self.name
        if not check_choice_key(field, label, self.choice_key, name, self.spec_choices, errors):
            return
        if name in seen:
            errors.add(
                field,
                _("%(label)s: there is already a %(frame_type)s image; give each frame once."),
                "duplicate_frame_type",
                label=label,
                frame_type=name,
            )
        seen.add(name)
        if supported and name not in supported:
            errors.add(
                field,
                _(
                    "%(label)s: model %(model)s does not accept a %(frame_type)s image. "
                    "Supported: %(allowed)s."
                ),
                "unsupported_by_model",
                label=label,
                model=model.model_id,
                frame_type=name,
                allowed=join(supported),
            )


@dataclass(frozen=True, kw_only=True)
class PassthroughField(RequestField):
    """``{"options": {"<provider slug>": {"parameters": {…}}}}``: parameters passed to the
    provider's providers as they are, limited per model by the capability."""

    def clean(self, value: Any, model: VideoModel | None, errors: RequestErrors) -> Any:
        if value is None:
            return None

        def check(slug: str, params: dict) -> None:
            if model is not None and self.capability is not None:
                self.capability.check(self.name, slug, params, model, errors)

        options = provider_options(value, errors, check)
        return copy.deepcopy(value) if options else None


@dataclass(frozen=True, kw_only=True)
class CallbackURLField(TextField):
    """A public https:// URL the provider can reach (http:// and local hosts with the
    simulator)."""

    def check(self, value: Any, errors: RequestErrors) -> Any:
        if super().check(value, errors) is _INVALID:
            return _INVALID
        host = check_web_url(self.name, self.name, value, errors)
        if host is not None and not simulator() and is_private_host(host):
            errors.add(
                self.name,
                _(
                    "callback_url points at %(host)s, a local or private address the provider "
                    "cannot reach. Use a public https:// URL."
                ),
                "private_url",
                host=host,
            )
        return value


# --- the request -----------------------------------------------------------------------------

REQUEST_SCHEMA: tuple[RequestField, ...] = (
    ModelField(
        name="model",
        help_text="A model id from the catalog (GET models/).",
        max_length=VideoModel._meta.get_field("model_id").max_length,
        type_message=N_("model must be a string, e.g. “google/veo-3.1”."),
    ),
    TextField(
        name="prompt",
        help_text="Required unless a frame image stands in for it.",
        max_length=MAX_PROMPT_CHARS,
        multiline=True,
        type_message=N_("prompt must be text."),
    ),
    ChoiceField(
        name="aspect_ratio",
        choices_enum=AspectRatio,
        capability=Listed("supported_aspect_ratios"),
    ),
    IntegerField(
        name="duration",
        help_text="Seconds.",
        min_value=1,
        max_value=MAX_DURATION_SECONDS,
        messages={
            "invalid_type": N_("duration must be a whole number of seconds."),
            "min_value": ("min_value", N_("duration must be at least 1 second.")),
            "max_value": ("max_value", N_("duration must be at most %(max)s seconds.")),
        },
        capability=Listed("supported_durations"),
    ),
    ChoiceField(
        name="resolution",
        choices_enum=Resolution,
        capability=Listed("supported_resolutions"),
    ),
    SizeField(
        name="size",
        help_text='"WIDTHxHEIGHT"; instead of resolution + aspect_ratio.',
        pattern=SIZE_PATTERN,
        capability=Listed(
            "supported_sizes",
            null_means_none=True,
            null_message=N_(
                "Model %(model)s does not take an exact size; "
                "use resolution and aspect_ratio instead."
            ),
        ),
    ),
    IntegerField(
        name="seed",
        min_value=SEED_MIN,
        max_value=SEED_MAX,
        messages={
            "invalid_type": N_("seed must be a whole number."),
            "min_value": ("out_of_range", N_("seed must be between %(min)s and %(max)s.")),
            "max_value": ("out_of_range", N_("seed must be between %(min)s and %(max)s.")),
        },
        capability=Flag("seed", N_("Model %(model)s does not support a seed; remove it.")),
    ),
    BooleanField(
        name="generate_audio",
        capability=FlagWhenTrue(
            "generate_audio",
            N_("Model %(model)s cannot generate audio; set generate_audio to false or omit it."),
        ),
    ),
    PartsField(
        name="frame_images",
        max_items=MAX_FRAME_IMAGES,
        part_types=("image_url",),
        label=N_("Frame image %(index)s"),
        choice_key="frame_type",
        choices_enum=FrameType,
        capability=Listed("supported_frame_images", null_means_none=True),
    ),
    PartsField(
        name="input_references",
        max_items=MAX_INPUT_REFERENCES,
        part_types=tuple(REFERENCE_KINDS),
        label=N_("Reference %(index)s"),
    ),
    PassthroughField(
        name="provider",
        help_text=f"Passthrough: {PROVIDER_SHAPE}.",
        capability=PassthroughKeys("allowed_passthrough_parameters"),
    ),
    CallbackURLField(
        name="callback_url",
        help_text="HTTPS; not a private or loopback address.",
        max_length=VideoJob._meta.get_field("callback_url").max_length,
        type_message=N_("callback_url must be a URL string."),
    ),
)
REQUEST_FIELDS = tuple(field.name for field in REQUEST_SCHEMA)
FIELDS_BY_NAME: dict[str, RequestField] = {field.name: field for field in REQUEST_SCHEMA}


class JobRequest(dict):
    """A request ``validate_job_request`` accepted: ``VideoJob`` request field → cleaned
    value (a plain dict to read), with the catalog entry it was checked against. Services
    given one (``job_create``) do not validate it again."""

    def __init__(self, cleaned: Mapping[str, Any], *, catalog_entry: VideoModel):
        super().__init__(cleaned)
        self.catalog_entry = catalog_entry


def validate_job_request(data: Mapping[str, Any]) -> JobRequest:
    """Return the cleaned request, or raise ``ValidationError({field: [errors…]})``.

    Every field is checked and every problem is reported in one go; each error carries a
    stable ``code`` for clients to branch on.
    """
    errors = RequestErrors()
    if not isinstance(data, Mapping):
        errors.add(NON_FIELD_ERRORS, _("The request must be a JSON object."), "invalid_type")
        errors.raise_if_any()

    refused = _check_text(data, errors)
    data = {key: value for key, value in data.items() if key not in refused}
    _check_keys(data, errors)
    _check_request_size(data, errors)
    model_field = FIELDS_BY_NAME["model"]
    model = None if "model" in refused else model_field.lookup(data.get("model"), errors)

    cleaned: dict[str, Any] = {}
    for field in REQUEST_SCHEMA:
        if field is model_field:
            cleaned[field.name] = model.model_id if model is not None else ""
        else:
            cleaned[field.name] = field.clean(data.get(field.name), model, errors)
    _check_size_excludes_resolution(cleaned, errors)
    _check_prompt_required(data, cleaned, model, errors)

    errors.raise_if_any()
    return JobRequest(cleaned, catalog_entry=model)


def request_choices(model: VideoModel | None) -> dict[str, Any]:
    """What ``model`` offers for each field its catalog entry narrows, from the schema.

    ``{"aspect_ratio": [...], "duration": [...] | None, "resolution": [...], "size": [...],
    "seed": bool, "generate_audio": bool, "frame_images": [...], "provider": [...]}``:

    - a list holds the only values the model takes (enums in the spec's order; ``[]``: the
      field is not taken at all; for ``frame_images`` the frame types, for ``provider`` the
      passthrough parameter names);
    - ``None``: the model does not restrict the field (any value within the schema's limits);
    - a bool: whether the model supports the field at all (``generate_audio: true``, a seed).

    ``model=None`` (no model chosen yet) gives what the spec allows. Reads no database.
    A form that offers only these values never meets ``unsupported_by_model``.
    """
    return {
        field.name: field.choices(model) for field in REQUEST_SCHEMA if field.capability is not None
    }


# --- checks of the whole request -------------------------------------------------------------


def _check_text(data: Mapping[str, Any], errors: RequestErrors) -> set[Any]:
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
    for field in REQUEST_SCHEMA:
        value = data.get(field.name)
        if not isinstance(field, TextField) or field.name in refused or not isinstance(value, str):
            continue
        problem = hygiene.text_problem(
            value, max_length=field.max_length, multiline=field.multiline
        )
        if problem:
            errors.add(field.name, problem.message, problem.code)
            refused.add(field.name)
    return refused


def _check_keys(data: Mapping[Any, Any], errors: RequestErrors) -> None:
    for key in data:
        if key in FIELDS_BY_NAME:
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
                allowed=join(REQUEST_FIELDS),
            )


def _check_request_size(data: Mapping[Any, Any], errors: RequestErrors) -> None:
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


def _check_size_excludes_resolution(cleaned: dict[str, Any], errors: RequestErrors) -> None:
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
    data: Mapping[str, Any],
    cleaned: dict[str, Any],
    model: VideoModel | None,
    errors: RequestErrors,
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
