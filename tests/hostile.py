"""Hypothesis strategies for hostile input at the webhook: text no column, driver or parser
should be trusted with, JSON documents too deep or too big for them."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Lone surrogates, NUL, C0/C1 controls, DEL, line separators, non-ASCII, astral.
HOSTILE_CHARACTERS = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "é", "\U0001f600"]
)

hostile_text = st.one_of(
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zs", "L", "N", "P", "S"]), max_size=40),
    st.builds(
        lambda before, bad, after: before + bad + after,
        st.text(max_size=10),
        HOSTILE_CHARACTERS,
        st.text(max_size=10),
    ),
    st.sampled_from(["x" * 201, "x" * 33, "9" * 400, ""]),
)

huge_numbers = st.sampled_from(
    ["1e400", "-1e400", str(2**70), str(10**30), "1" * 5000, "0.000000000000000001", "1e-400"]
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


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
    text = draw(hostile_text)
    raw_number = draw(huge_numbers)
    if target == "type":
        event_type = text
    elif target == "id":
        data["id"] = text
    elif target == "status":
        data["status"] = text
    elif target == "generation_id":
        data["generation_id"] = text
    elif target == "error":
        data["error"] = text
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
        depth = draw(st.sampled_from([33, 500, 5000]))
        body = body.replace('"is_byok": false', f'"is_byok": false, "x": {deep(depth)}')
    return body.encode()
