"""Keyset cursors (``videogen.keyset``): what the pages make reads back; nothing else does."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import anything_text, hostile_text
from videogen.keyset import InvalidCursor, Position


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(
    at=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    pk=st.integers(min_value=1, max_value=2**63 - 1),
)
def test_a_position_survives_its_cursor(at, pk):
    assert Position.decode(Position(at, pk).encode()) == Position(at, pk)


@pytest.mark.parametrize(
    "cursor",
    [
        b64("2025-01-01T00:00:00|1"),  # no time zone
        b64("2025-01-01T00:00:00+00:00|"),
        b64("2025-01-01T00:00:00+00:00|-1"),
        b64("2025-01-01T00:00:00+00:00|99999999999999999999"),
        b64("2025-13-01T00:00:00+00:00|1"),
        b64("2025-01-01T00:00:00+00:00|1|2"),
        b64("1; DROP TABLE videogen_videojob|1"),
        "!!!",
        "A" * 101,
    ],
)
def test_edited_cursors_are_refused(cursor):
    with pytest.raises(InvalidCursor):
        Position.decode(cursor)


@given(st.one_of(anything_text(), hostile_text()))
def test_no_text_breaks_the_decoder(text):
    with contextlib.suppress(InvalidCursor):
        Position.decode(text)
