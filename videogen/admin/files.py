"""Stored videos served to staff: whole (a download) or by byte range (the inline player).

A browser's ``<video>`` asks for ``Range: bytes=…`` to start before the end of a large file,
to read an MP4 whose index (``moov``) sits at its end, and to seek; a plain 200 would make
it download everything first. One range per request (what players send); anything else is
answered whole, and a range past the end gets 416.
"""

from __future__ import annotations

import re

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from videogen.models import VideoOutput

CHUNK_BYTES = 1 << 16
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _chunks(handle, start: int, length: int):
    try:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(CHUNK_BYTES, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


def _byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """``(first, last)`` of a single satisfiable range, ``None`` when there is no usable
    range header (serve it whole), ``False`` when it cannot be satisfied (416)."""
    match = _RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-500": the last 500 bytes
        suffix = int(last)
        return (max(size - suffix, 0), size - 1) if suffix and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def output_response(request, output: VideoOutput, *, as_attachment: bool) -> HttpResponse:
    """The output's file: whole, or the one byte range the request asks for."""
    storage, name = output.file.storage, output.file.name
    content_type = output.content_type or "application/octet-stream"
    filename = name.rsplit("/", 1)[-1]
    size = output.size_bytes if output.size_bytes is not None else storage.size(name)
    wanted = _byte_range(request.headers.get("Range", ""), size) if not as_attachment else None
    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    handle = storage.open(name, "rb")
    if wanted is None:
        response = FileResponse(
            handle, content_type=content_type, as_attachment=as_attachment, filename=filename
        )
    else:
        start, end = wanted
        response = StreamingHttpResponse(
            _chunks(handle, start, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response
