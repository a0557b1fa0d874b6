"""Keyset ("seek") pagination, newest first, on ``(created_at, id)``.

A page is found by where it starts, not by how many rows come before it: ``WHERE
(created_at, id) < (cursor)`` ``ORDER BY created_at DESC, id DESC LIMIT n + 1``, an index
range scan whose cost does not grow with the page's depth, and no ``COUNT(*)`` (pages say
"newer" and "older", not "page 3,000 of 40,000"). A cursor is the position of the row next
to the page, as ``base64url("<ISO timestamp>|<id>")``; anything else is ``InvalidCursor``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from videogen import hygiene

NEWEST_FIRST = ("-created_at", "-id")
OLDEST_FIRST = ("created_at", "id")
# Longest cursor accepted: a timestamp, a 64-bit id and base64's growth, with room to spare.
MAX_CURSOR_CHARS = 100
_CURSOR = re.compile(r"(?P<at>[0-9T:.+\-]{19,32})\|(?P<pk>[0-9]{1,19})")


class InvalidCursor(ValueError):
    """A cursor this module did not make (edited, truncated, from another kind of list)."""


@dataclass(frozen=True)
class Position:
    created_at: datetime
    pk: int

    @classmethod
    def of(cls, row: Any) -> Position:
        return cls(row.created_at, row.pk)

    def encode(self) -> str:
        text = f"{self.created_at.isoformat()}|{self.pk}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor("This page link is not valid.")
        if hygiene.text_problem(cursor, multiline=False):
            raise InvalidCursor("This page link is not valid.")
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            raise InvalidCursor("This page link is not valid.") from None
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise InvalidCursor("This page link is not valid.")
        try:
            created_at = datetime.fromisoformat(match["at"])
        except ValueError:
            raise InvalidCursor("This page link is not valid.") from None
        pk = int(match["pk"])
        if created_at.tzinfo is None or pk > hygiene.MAX_INT:
            raise InvalidCursor("This page link is not valid.")
        return cls(created_at, pk)


@dataclass(frozen=True)
class KeysetPage:
    items: Sequence[Any]
    newer: str | None  # cursor of the page before (newer rows), None on the first page
    older: str | None  # cursor of the page after (older rows), None on the last page

    @property
    def is_first(self) -> bool:
        return self.newer is None


def _before(position: Position) -> Q:
    # The redundant created_at <= bound lets the database use the index as a range.
    at, pk = position.created_at, position.pk
    return Q(created_at__lte=at) & (Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))


def _after(position: Position) -> Q:
    at, pk = position.created_at, position.pk
    return Q(created_at__gte=at) & (Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk))


def keyset_page(
    queryset: QuerySet, *, size: int, older: str | None = None, newer: str | None = None
) -> KeysetPage:
    """One page of ``queryset``, newest first: the first page, the rows older than the cursor
    ``older``, or the rows newer than the cursor ``newer``. Raises ``InvalidCursor``."""
    if older:
        rows = list(
            queryset.filter(_before(Position.decode(older))).order_by(*NEWEST_FIRST)[: size + 1]
        )
        items = rows[:size]
        return KeysetPage(
            items=items,
            # Past the oldest row: the way back is still "newer" (never the first page's None).
            newer=Position.of(items[0]).encode() if items else older,
            older=Position.of(items[-1]).encode() if len(rows) > size else None,
        )
    if newer:
        rows = list(
            queryset.filter(_after(Position.decode(newer))).order_by(*OLDEST_FIRST)[: size + 1]
        )
        if len(rows) > size:
            items = rows[:size][::-1]
            return KeysetPage(
                items=items,
                newer=Position.of(items[0]).encode(),
                older=Position.of(items[-1]).encode(),
            )
        # Back at the newest rows: show a full first page rather than a short one.
    rows = list(queryset.order_by(*NEWEST_FIRST)[: size + 1])
    items = rows[:size]
    return KeysetPage(
        items=items,
        newer=None,
        older=Position.of(items[-1]).encode() if len(rows) > size else None,
    )
