"""The one request parser of the API: JSON, with the body size capped before it is read."""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from videogen.api.exceptions import RequestBodyTooLarge
from videogen.services import validation


class CappedJSONParser(JSONParser):
    """JSON bodies up to ``services.validation.MAX_REQUEST_BYTES``; 413 beyond.

    Two limits apply, and the smaller wins: DRF reads a JSON body through ``request.body``,
    so the site's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's default: 2.5 MiB) is checked
    first, by Django (``RequestDataTooBig``, answered 413 naming that limit); then this cap,
    from ``Content-Length`` and on the bytes read. A site that accepts ``data:`` media (up to
    ``MAX_DATA_URL_BYTES`` each) raises ``DATA_UPLOAD_MAX_MEMORY_SIZE`` to this cap (README,
    "Plugging videogen into an existing site"). Strings with NUL characters are refused: no
    database can store them.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = validation.MAX_REQUEST_BYTES
        request = (parser_context or {}).get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestBodyTooLarge(limit)
        if stream is None:
            return {}
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestBodyTooLarge(limit)
        data = super().parse(io.BytesIO(body), media_type, parser_context)
        bad = sorted(_keys_with_nul(data))
        if bad:
            raise exceptions.ValidationError(
                {
                    key: [
                        exceptions.ErrorDetail(
                            _("Text may not contain NUL (\\u0000) characters."),
                            code="null_characters",
                        )
                    ]
                    for key in bad
                }
            )
        return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _keys_with_nul(data: Any) -> set[str]:
    """Top-level fields (or ``non_field_errors``) holding a NUL character somewhere."""
    if isinstance(data, dict):
        return {
            api_settings.NON_FIELD_ERRORS_KEY if "\x00" in str(k) else str(k)
            for k, v in data.items()
            if _has_nul(k) or _has_nul(v)
        }
    return {api_settings.NON_FIELD_ERRORS_KEY} if _has_nul(data) else set()
