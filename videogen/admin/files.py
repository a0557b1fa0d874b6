"""Stored videos served to staff: whole as a download, or by byte range for the job page's
player, by the site's one rule for stored files (``videogen.ranges.serve_stored_file``)."""

from __future__ import annotations

from django.http import HttpResponse

from videogen.models import VideoOutput
from videogen.ranges import serve_stored_file


def output_response(request, output: VideoOutput, *, as_attachment: bool) -> HttpResponse:
    name = output.file.name
    return serve_stored_file(
        request,
        output.file.storage,
        name,
        content_type=output.content_type or "application/octet-stream",
        filename=name.rsplit("/", 1)[-1],
        as_attachment=as_attachment,
        etag=f'"{output.sha256}"' if output.sha256 else None,
        last_modified=output.stored_at,
    )
