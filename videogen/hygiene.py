"""Untrusted text and JSON at videogen's edges: one rule, applied everywhere.

Every string that can reach the database or the provider (from the API, the pages, the
admin, management commands and webhooks) goes through this module; the edge turns a
``HostileInput`` into its own clear refusal (a 400 naming the field, a form error, a
``CommandError``, an acknowledged-and-recorded webhook). Refused, with stable codes:

- ``invalid_characters``: lone surrogates (U+D800–U+DFFF), which no UTF-8 encoder, database
  driver or HTTP client can write;
- ``null_characters``: NUL, which PostgreSQL cannot store in text or jsonb;
- ``control_characters``: other C0/C1 control characters and DEL (tab, newline and carriage
  return are allowed in multi-line text only);
- ``max_length``: text longer than its field allows;
- ``too_deep``: JSON nested deeper than ``MAX_JSON_DEPTH`` (checked on the raw text, before
  parsing, so neither the parser nor any later walk can recurse without bound);
- ``number_out_of_range``: integers beyond a signed 64-bit column, non-finite numbers.

Pure Python: no Django, no I/O. Walks are iterative.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Deep enough for every documented body (the deepest, provider passthrough options, is 5).
MAX_JSON_DEPTH = 32
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A JSON string literal (escapes included), removed before counting brackets. One left open
# runs to the end of the text (as a parser would read it): the pattern never fails once it
# has its opening quote, so the scan stays linear however many quotes the text holds.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


class HostileInput(ValueError):
    """A value broke the hygiene rule; ``field`` names where (dotted path), ``code`` why."""

    def __init__(self, field: str, problem: Problem):
        self.field = field
        self.code = problem.code
        self.message = problem.message
        super().__init__(f"{field}: {problem.message}" if field else problem.message)


def text_problem(
    value: str, *, max_length: int | None = None, multiline: bool = True
) -> Problem | None:
    """What is wrong with ``value`` as stored text, or ``None``."""
    if _SURROGATE.search(value):
        return Problem("invalid_characters", "Text contains an unpaired surrogate character.")
    if "\x00" in value:
        return Problem("null_characters", "Text must not contain NUL (\\u0000) characters.")
    control = (_CONTROL_MULTI_LINE if multiline else _CONTROL_SINGLE_LINE).search(value)
    if control:
        return Problem(
            "control_characters",
            f"Text must not contain control characters (found U+{ord(control.group()):04X}).",
        )
    if max_length is not None and len(value) > max_length:
        return Problem(
            "max_length", f"Ensure this value has at most {max_length} characters ({len(value)})."
        )
    return None


def clean_text(
    value: str, *, field: str = "", max_length: int | None = None, multiline: bool = True
) -> str:
    """``value`` unchanged when it passes the rule; ``HostileInput`` otherwise."""
    problem = text_problem(value, max_length=max_length, multiline=multiline)
    if problem is not None:
        raise HostileInput(field, problem)
    return value


def json_depth(raw: str | bytes, *, stop_above: int | None = None) -> int:
    """Deepest bracket nesting of a JSON document, read without parsing it (in linear time).

    With ``stop_above``, the count stops as soon as the nesting is deeper than that.
    """
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw).decode(json.detect_encoding(raw), errors="replace")
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub('""', raw)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def _openings(raw: str | bytes) -> int:
    """How many ``[`` and ``{`` (or bytes of their value, whatever the encoding) ``raw`` holds:
    no document nests deeper, so most bodies need no closer look."""
    if isinstance(raw, bytes | bytearray):
        return raw.count(b"[") + raw.count(b"{")
    return raw.count("[") + raw.count("{")


def too_deep(max_depth: int) -> Problem:
    return Problem("too_deep", f"JSON is nested deeper than {max_depth} levels.")


def loads(raw: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, parse_float: Any = Decimal) -> Any:
    """``json.loads`` with money as ``Decimal``, refusing over-deep documents before parsing.

    Raises ``HostileInput`` (``too_deep``) or ``ValueError`` for text that is not JSON
    (``UnicodeDecodeError`` included); ``NaN`` and ``Infinity`` are not JSON here. Bodies that
    carry no money and are stored in plain JSON columns pass ``parse_float=float``.
    """
    if _openings(raw) > max_depth and json_depth(raw, stop_above=max_depth) > max_depth:
        raise HostileInput("", too_deep(max_depth))
    return json.loads(raw, parse_float=parse_float, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def json_problems(
    value: Any, *, max_depth: int = MAX_JSON_DEPTH, max_string_length: int | None = None
) -> Iterator[tuple[str, Problem]]:
    """Every ``(dotted path, problem)`` in an already-parsed JSON value (keys included)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= max_depth:
            yield path, too_deep(max_depth)
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (problem := text_problem(key, multiline=False)):
                    shown = printable(key, 50)
                    yield (f"{path}.{shown}" if path else shown), problem
                    continue
                stack.append((child_path, child, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            if problem := text_problem(item, max_length=max_string_length):
                yield path, problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not MIN_INT <= item <= MAX_INT:
                yield path, Problem("number_out_of_range", "Integer out of range.")
        elif isinstance(item, float | Decimal) and not _finite(item):
            yield path, Problem("number_out_of_range", "Number must be finite.")


def first_json_problem(value: Any, **kwargs: Any) -> tuple[str, Problem] | None:
    return next(json_problems(value, **kwargs), None)


def object_problems(
    data: dict, *, max_depth: int = MAX_JSON_DEPTH
) -> Iterator[tuple[str | None, str, Problem]]:
    """The first problem under each key of a JSON object, as ``(key, path, problem)``.

    ``key`` is ``None`` when the key itself breaks the rule (its ``path`` is then the key,
    escaped by ``printable``); a form or an API names ``key`` as the field in error.
    """
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if problem := text_problem(key, multiline=False):
            yield None, printable(key, 50), problem
            continue
        found = first_json_problem(value, max_depth=max_depth - 1)
        if found is not None:
            path, problem = found
            where = key if not path else f"{key}{path}" if path[0] == "[" else f"{key}.{path}"
            yield key, printable(where, 200), problem


def _finite(number: float | Decimal) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)


def printable(value: str, limit: int = 200) -> str:
    """``value`` safe to log, store as an excerpt or show: hostile characters escaped, cut."""
    cut = value[:limit]
    cleaned = _SURROGATE.sub("\ufffd", cut)
    cleaned = _CONTROL_MULTI_LINE.sub(lambda m: f"\\x{ord(m.group()):02x}", cleaned)
    return cleaned + ("…" if len(value) > limit else "")
