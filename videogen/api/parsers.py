"""The one request parser of the API: JSON, with the body size capped before it is read and
the text-hygiene rule (``videogen.hygiene``) applied to everything in it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from videogen import hygiene
from videogen.api.exceptions import RequestBodyTooLarge
from videogen.services.jobs import request as validation


class CappedJSONParser(JSONParser):
    """JSON bodies up to ``services.jobs.request.MAX_REQUEST_BYTES``; 413 beyond.

    Two limits apply, and the smaller wins: DRF reads a JSON body through ``request.body``,
    so the site's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's default: 2.5 MiB) is checked
    first, by Django (``RequestDataTooBig``, answered 413 naming that limit); then this cap,
    from ``Content-Length`` and on the bytes read. A site that accepts ``data:`` media (up to
    ``MAX_DATA_URL_BYTES`` each) raises ``DATA_UPLOAD_MAX_MEMORY_SIZE`` to this cap (README,
    "Plugging videogen into an existing site"). The nesting depth is checked on the raw text
    before parsing, and every key and string of the document then passes the hygiene rule: a
    refusal is a 400 naming the top-level field and the rule's code.
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
        try:
            # Request bodies carry no money: numbers stay floats, as the provider reads them.
            data = hygiene.loads(body, parse_float=float)
        except hygiene.HostileInput as err:
            raise exceptions.ValidationError(_non_field(err.message, err.code)) from None
        except (ValueError, RecursionError) as err:
            raise exceptions.ParseError(_("JSON parse error: %(error)s") % {"error": err}) from None
        _refuse_hostile(data)
        return data


def _non_field(message: str, code: str) -> dict[str, list]:
    return {api_settings.NON_FIELD_ERRORS_KEY: [exceptions.ErrorDetail(message, code=code)]}


def _refuse_hostile(data: Any) -> None:
    """400 with the first problem under each top-level field (hostile keys: non-field)."""
    if isinstance(data, dict):
        found = list(hygiene.object_problems(data))
    else:
        problem = hygiene.first_json_problem(data)
        found = [(None, problem[0] or "(body)", problem[1])] if problem else []
    if not found:
        return
    detail: dict[str, list] = {}
    for key, path, problem in found:
        field = key if key is not None else api_settings.NON_FIELD_ERRORS_KEY
        message = problem.message if path == key else f"{path}: {problem.message}"
        detail.setdefault(field, []).append(exceptions.ErrorDetail(message, code=problem.code))
    raise exceptions.ValidationError(detail)
