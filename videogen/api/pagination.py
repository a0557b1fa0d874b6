"""Cursor pagination of job lists: stable under inserts, no COUNT query."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class JobCursorPagination(CursorPagination):
    """Newest first (``-created_at, -id``); ``?page_size=`` up to 100."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        # The position is compared with a datetime column: a forged one must not reach SQL.
        if cursor is not None and cursor.position is not None:
            try:
                valid = parse_datetime(cursor.position) is not None
            except ValueError:
                valid = False
            if not valid:
                raise NotFound(self.invalid_cursor_message)
        return cursor
