"""The request's nested checks, used by the field kinds of ``services.jobs.request``.

Content parts (``frame_images``, ``input_references``: ``{type, <type>: {url}, …}``), the
media and callback URLs they carry, and the provider passthrough object. Each check reports
into a ``RequestErrors`` and returns nothing: the request schema decides what a field cleans
to. No DNS lookups and no HTTP happen here: hosts are judged by their literal form only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from videogen.conf import videogen_settings

# Longest http(s) URL accepted for a reference (Django's URLValidator default).
MAX_REMOTE_URL_CHARS = 2048
# input_references part type -> the media type its data: URL must carry.
REFERENCE_KINDS = {"image_url": "image", "audio_url": "audio", "video_url": "video"}

_MIME_PART = r"[a-z0-9!#$&^_.+-]+"
DATA_URL_RE = re.compile(
    rf"data:(?P<mime>{_MIME_PART}/{_MIME_PART})(?:;{_MIME_PART}=[^;,]*)*;base64,(?P<payload>.*)",
    re.IGNORECASE | re.DOTALL,
)
BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class RequestErrors:
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


def join(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def simulator() -> bool:
    """The local simulator accepts http:// and local hosts (it runs beside the site)."""
    return bool(videogen_settings.SIMULATOR)


# --- content parts ---------------------------------------------------------------------------


def check_list(field: str, value: Any, limit: int, errors: RequestErrors) -> list:
    """The list itself (its items are checked by the caller); ``[]`` when it is not one."""
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


def check_content_part(
    field: str,
    label: str,
    item: Any,
    types: tuple[str, ...],
    extra_keys: tuple[str, ...],
    errors: RequestErrors,
    *,
    max_data_url_bytes: int,
) -> None:
    """``{type: <t>, <t>: {url}, *extra_keys}``, the spec's ContentPart shapes, no other keys;
    its URL an https:// URL or a ``data:`` URL of at most ``max_data_url_bytes``."""
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
    if not check_choice_key(field, label, "type", part_type, types, errors):
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
        kind = REFERENCE_KINDS[part_type]
        _check_media_url(field, label, inner["url"], kind, errors, max_data_url_bytes)


def check_choice_key(
    field: str, label: str, key: str, value: Any, allowed: Sequence[str], errors: RequestErrors
) -> bool:
    """Whether ``value`` (the item's ``key``) is one of ``allowed``; reported if not."""
    if not isinstance(value, str):
        message = _("%(label)s: %(key)s must be a string, one of: %(allowed)s.")
        errors.add(field, message, "invalid_type", label=label, key=key, allowed=join(allowed))
        return False
    if value not in allowed:
        message = _("%(label)s: %(key)s must be one of: %(allowed)s.")
        errors.add(field, message, "invalid_choice", label=label, key=key, allowed=join(allowed))
        return False
    return True


def _check_exact_keys(
    field: str, label: str, obj: dict, expected: set[str], errors: RequestErrors
) -> None:
    unknown = sorted(str(key) for key in obj if key not in expected)
    if unknown:
        errors.add(
            field,
            _("%(label)s: unknown key(s) %(keys)s. Allowed keys: %(allowed)s."),
            "unknown_field",
            label=label,
            keys=join(unknown),
            allowed=join(sorted(expected)),
        )
    for key in sorted(expected - set(obj)):
        errors.add(field, _("%(label)s: %(key)s is required."), "required", label=label, key=key)


# --- URLs ------------------------------------------------------------------------------------


def _check_media_url(
    field: str, label: str, url: Any, kind: str, errors: RequestErrors, max_data_bytes: int
) -> None:
    if not isinstance(url, str) or not url:
        errors.add(
            field,
            _("%(label)s: url must be an https:// URL or a data: URL."),
            "invalid_type",
            label=label,
        )
        return
    if url[:5].lower() == "data:":
        _check_data_url(field, label, url, kind, errors, max_data_bytes)
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
    check_web_url(field, label, url, errors)


def _check_data_url(
    field: str, label: str, url: str, kind: str, errors: RequestErrors, max_bytes: int
) -> None:
    size = len(url.encode())
    if size > max_bytes:
        errors.add(
            field,
            _(
                "%(label)s: the data: URL is %(size)s MiB; at most %(limit)s MiB is allowed. "
                "Host the file and give its https:// URL instead."
            ),
            "too_large",
            label=label,
            size=f"{size / 2**20:.1f}",
            limit=max_bytes // 2**20,
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


def check_web_url(field: str, label: str, url: str, errors: RequestErrors) -> str | None:
    """An https:// URL (http:// too with the simulator). Returns its host when valid."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "http" and not simulator():
        errors.add(
            field,
            _("%(label)s: use https://, not http://."),
            "insecure_url",
            label=label,
        )
        return None
    schemes = ["http", "https"] if simulator() else ["https"]
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


def is_private_host(host: str) -> bool:
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


# --- provider passthrough --------------------------------------------------------------------

PROVIDER_SHAPE = '{"options": {"<provider slug>": {"parameters": {…}}}}'


def provider_options(
    value: Any, errors: RequestErrors, check: Callable[[str, dict], None]
) -> dict | None:
    """The ``options`` of a passthrough object (``None`` when absent, or when the object is
    malformed: reported), calling ``check(slug, parameters)`` for each well-formed entry.
    Accepts ``{slug: {parameters: {...}}}`` and the flat ``{slug: {...}}``."""
    field = "provider"
    shape = _(PROVIDER_SHAPE)
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
            keys=join(unknown),
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
        if params is not None:
            check(slug, params)
    return options


def _provider_parameters(slug: Any, entry: Any, errors: RequestErrors) -> dict | None:
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
