"""Renderers and content negotiation for the non-JSON answers (CSV reports, video bytes)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer


class CSVRenderer(BaseRenderer):
    """``text/csv`` (``?format=csv``); the view hands it the finished CSV text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode(self.charset)
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class PassthroughRenderer(BaseRenderer):
    """Lets any ``Accept`` through for views that answer with a Django (streamed) response.

    It never renders a body itself: errors are rendered as JSON (see
    ``VideogenAPIMixin.finalize_response``).
    """

    media_type = "*/*"
    format = "bin"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class LenientFormatNegotiation(DefaultContentNegotiation):
    """An unknown ``?format=`` falls back to the ``Accept`` header instead of DRF's bare 404,
    so a view that validates ``format`` itself can answer a proper 400."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        return matching or renderers
