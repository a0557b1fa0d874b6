"""Hypothesis strategies for hostile input, shared by every door's tests (and schemathesis
hooks): what a hostile client, a broken proxy or a fuzzer sends.

- ``hostile_characters``: one character that the hygiene rule refuses (lone surrogates, NUL,
  C0/C1 controls, DEL) and where each hurts (database drivers, PostgreSQL, logs, headers).
- ``hostile_text``: text carrying at least one of them, anywhere in it.
- ``anything_text``: any text at all (hostile or not), for "never a 5xx" properties;
  ``edge_text``: text at the edges (any category, one hostile or merely unusual character,
  empty or over-long), for headers and webhook fields.
- ``huge_integers`` / ``huge_number_literals``: numbers no 64-bit column holds, and JSON
  number literals that parse to ``inf``, to zero, or need thousands of digits.
- ``hostile_json``: JSON values (nested, with hostile keys and leaves) within the depth limit;
  ``deep_json_text``: raw JSON text nested beyond it (hundreds to thousands of levels);
  ``deep_json(depth)``: one such list, as text.
- ``with_hostile_value``: a copy of a valid body with one value (anywhere in it) replaced.
- ``hostile_query``: query parameters whose names or values are hostile; ``url_hostile_text``:
  hostile text as a server reads it from a URL.
- ``hostile_event``: a webhook body shaped like OpenRouter's, hostile where it hurts.

JSON that must carry a lone surrogate is sent as text made by ``json_text`` (``\\ud800``
escapes are plain ASCII on the wire: exactly what a client can send).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from videogen import hygiene

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
LINE_BREAKS = ["\n", "\r", "\t"]  # allowed in multi-line text only
# Allowed, but where naive code breaks: a line separator, non-ASCII, an astral character.
UNUSUAL = ["\u2028", "é", "\U0001f600"]

hostile_characters = st.sampled_from(SURROGATES + CONTROLS)

# Anything hypothesis can make, surrogates and controls included (they are rare in st.text).
any_character = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    hostile_characters,
    st.sampled_from(LINE_BREAKS),
)


def anything_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(any_character, max_size=max_size)


@st.composite
def hostile_text(draw, *, max_size: int = 40) -> str:
    """Text the hygiene rule refuses: a hostile character at a drawn position."""
    text = draw(st.text(max_size=max_size))
    at = draw(st.integers(0, len(text)))
    result = text[:at] + draw(hostile_characters) + text[at:]
    assert hygiene.text_problem(result) is not None
    return result


def as_received_in_urls(text: str) -> str:
    """``text`` as a server reads it from a URL: what UTF-8 cannot encode (a lone surrogate)
    travels as invalid bytes, which the server decodes as U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


url_hostile_text = hostile_text().map(as_received_in_urls)

edge_text = st.one_of(
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zs", "L", "N", "P", "S"]), max_size=40),
    st.builds(
        lambda before, odd, after: before + odd + after,
        st.text(max_size=10),
        st.sampled_from(SURROGATES + CONTROLS + UNUSUAL),
        st.text(max_size=10),
    ),
    st.sampled_from(["x" * 201, "x" * 33, "9" * 400, ""]),
)


huge_integers = st.one_of(
    st.integers(min_value=hygiene.MAX_INT + 1, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=hygiene.MIN_INT - 1),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30]),
)
# Raw JSON number literals: overflow to inf or to zero, beyond 64 bits, or too many digits
# for int().
huge_number_literals = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "1e-400",
        "0.000000000000000001",
        str(2**70),
        str(10**30),
        "9" * 5000,
        "1" + "0" * 400,
    ]
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=hygiene.MIN_INT, max_value=hygiene.MAX_INT),
    huge_integers,
    st.floats(allow_nan=False, allow_infinity=False),
    anything_text(),
    hostile_text(),
)
json_keys = st.one_of(st.text(max_size=10), hostile_text(max_size=10))

hostile_json = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(json_keys, children, max_size=3)
    ),
    max_leaves=8,
)


def deep_json(depth: int) -> str:
    """A JSON list nested ``depth`` levels deep, as text."""
    return "[" * depth + "]" * depth


@st.composite
def deep_json_text(draw, *, around: str | None = None) -> str:
    """JSON text nested beyond the limit, as lists or objects, optionally as the value of
    ``around``'s ``"__DEEP__"`` placeholder (e.g. inside ``provider``)."""
    depth = draw(st.sampled_from([hygiene.MAX_JSON_DEPTH + 1, 100, 600, 2_000, 20_000]))
    opening, leaf, closing = draw(st.sampled_from([("[", "", "]"), ('{"a":', "1", "}")]))
    deep = opening * depth + leaf + closing * depth
    return around.replace('"__DEEP__"', deep) if around is not None else deep


def json_text(value: Any) -> str:
    """JSON text for ``value``; lone surrogates become ``\\udXXX`` escapes, as on the wire."""
    return json.dumps(value, ensure_ascii=True)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``value`` a value can be put (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


@st.composite
def with_hostile_value(draw, body: dict, *, values: st.SearchStrategy | None = None) -> dict:
    """``body`` with one value (at any depth) replaced, or one hostile key added."""
    values = values if values is not None else st.one_of(hostile_text(), hostile_json)
    if draw(st.integers(0, 5)) == 0:
        return {**body, draw(hostile_text(max_size=10)): draw(hostile_json)}
    path = draw(st.sampled_from(_paths(body)))
    return _replaced(body, path, draw(values))


@st.composite
def hostile_query(draw, names: list[str]) -> dict[str, str]:
    """Query parameters (the given names or hostile ones) with hostile or absurd values, as a
    server receives them (see ``as_received_in_urls``)."""
    values = st.one_of(
        url_hostile_text,
        anything_text().map(as_received_in_urls),
        # Over every parameter's length limit (ASCII: it stays one such value per 1 KB).
        st.text(alphabet="abcxyz019", min_size=1001, max_size=1100),
        st.sampled_from(["", "-1", "0", "1e5", "9" * 30, "２", "2026-01-01T00:00:00-16:00"]),
    )
    keys = st.one_of(st.sampled_from(names), hostile_text(max_size=8).map(as_received_in_urls))
    return draw(st.dictionaries(keys, values, min_size=1, max_size=3))


@st.composite
def hostile_event(draw) -> bytes:
    """A webhook body shaped like OpenRouter's, with hostile values where it hurts."""
    target = draw(
        st.sampled_from(
            [
                "type",
                "id",
                "status",
                "generation_id",
                "error",
                "urls",
                "cost",
                "extra",
                "nesting",
                "key",
            ]
        )
    )
    data = {
        "id": "job-1",
        "status": "completed",
        "generation_id": "gen-1",
        "unsigned_urls": ["https://sim.test/v.mp4"],
        "usage": {"cost": 0.5, "is_byok": False},
    }
    event_type = "video.generation.completed"
    text = draw(edge_text)
    raw_number = draw(huge_number_literals)
    if target == "type":
        event_type = text
    elif target in ("id", "status", "generation_id", "error"):
        data[target] = text
    elif target == "urls":
        data["unsigned_urls"] = [text]
    elif target == "key":
        data[text] = 1
    body = json.dumps({"type": event_type, "data": data})
    if target == "cost":
        body = body.replace('"cost": 0.5', f'"cost": {raw_number}')
    elif target == "extra":
        body = body.replace('"is_byok": false', f'"is_byok": false, "n": {raw_number}')
    elif target == "nesting":
        depth = draw(st.sampled_from([hygiene.MAX_JSON_DEPTH + 1, 500, 5000]))
        body = body.replace('"is_byok": false', f'"is_byok": false, "x": {deep_json(depth)}')
    return body.encode()
