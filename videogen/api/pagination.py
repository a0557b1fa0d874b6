"""Cursor pagination of job lists: stable under inserts, no COUNT query, signed cursors."""

from __future__ import annotations

import re

from django.core import signing
from django.utils.translation import gettext as _
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.utils.urls import replace_query_param

CURSOR_SALT = "videogen.api.cursor"
_DIGITS = re.compile(r"[0-9]+")


class JobCursorPagination(CursorPagination):
    """Newest first (``-created_at, -id``); ``?page_size=`` from 1, capped at 100.

    A cursor is signed with the site's ``SECRET_KEY``: one this endpoint did not give
    (crafted, altered, cut, or from before a key rotation) answers 404, as documented, instead
    of a page computed from a position nobody sent. An empty ``?cursor=`` is the first page.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not _DIGITS.fullmatch(raw) or int(raw) < 1:
            message = _("A whole number of jobs per page, at least 1 (at most %(max)s are sent).")
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        ErrorDetail(message % {"max": self.max_page_size}, code="invalid")
                    ]
                }
            )
        return min(int(raw), self.max_page_size)

    def encode_cursor(self, cursor: Cursor) -> str:
        signed = signing.Signer(salt=CURSOR_SALT).sign_object(
            [cursor.offset, cursor.reverse, cursor.position]
        )
        return replace_query_param(self.base_url, self.cursor_query_param, signed)

    def decode_cursor(self, request) -> Cursor | None:
        signed = request.query_params.get(self.cursor_query_param)
        if not signed:
            return None
        try:
            offset, reverse, position = signing.Signer(salt=CURSOR_SALT).unsign_object(signed)
        except (signing.BadSignature, ValueError, TypeError):
            raise NotFound(self.invalid_cursor_message) from None
        return Cursor(offset=offset, reverse=reverse, position=position)
