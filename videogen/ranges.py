"""Serving a stored file with HTTP range requests (RFC 9110 §14), so a video player can seek.

Django's ``FileResponse`` always sends the whole file. ``stored_file_response`` answers a
single ``Range: bytes=…`` with ``206 Partial Content`` and that slice, an unsatisfiable one
with ``416`` (``Content-Range: bytes */<size>``), and anything else (no Range, several ranges,
a malformed header, an ``If-Range`` that no longer matches) with the whole file: RFC 9110
lets a server ignore a Range header it does not serve. ``ETag`` / ``Last-Modified`` make the
answer cacheable by the browser and revalidated (``304``); ``Cache-Control: private``, since
the pages check who may see the file.

``storage_direct_url`` is for storages that serve their own files (S3 and the like): their
``url()`` is handed to the browser instead, so bytes and ranges never pass through Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from django.core.files.storage import FileSystemStorage, Storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

CHUNK_BYTES = 64 * 1024
_SINGLE_RANGE = re.compile(r"bytes=(?P<start>[0-9]{0,19})-(?P<end>[0-9]{0,19})")


class Unsatisfiable(Exception):
    """The range starts beyond the end of the file (or asks for the last 0 bytes)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte positions (inclusive) of a single byte range, ``None`` to send
    the whole file. Raises ``Unsatisfiable``."""
    if not header:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:  # several ranges, another unit, or malformed: ignored
        return None
    start, end = match["start"], match["end"]
    if not start:
        if not end:
            return None
        suffix = int(end)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(start)
    last = int(end) if end else size - 1
    if end and last < first:
        return None  # invalid: ignored
    if first >= size:
        raise Unsatisfiable
    return first, min(last, size - 1)


def _if_range_matches(request: HttpRequest, etag: str | None, modified: datetime | None) -> bool:
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    if condition.startswith(('"', "W/")):
        return etag is not None and condition == etag  # strong comparison: no weak tags
    when = parse_http_date_safe(condition)
    return when is not None and modified is not None and int(modified.timestamp()) == when


class _FileSlice:
    """``length`` bytes of ``handle`` from ``first``, in chunks; closing it closes the file
    (also when the body was never read: a HEAD request, a client gone)."""

    def __init__(self, handle: IO[bytes], first: int, length: int):
        self.handle, self.first, self.length = handle, first, length

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.first)
        left = self.length
        while left > 0:
            chunk = self.handle.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def stored_file_response(
    request: HttpRequest,
    handle: IO[bytes],
    *,
    size: int,
    content_type: str,
    filename: str,
    etag: str | None = None,
    last_modified: datetime | None = None,
    as_attachment: bool = False,
) -> HttpResponse:
    """The open file ``handle`` (``size`` bytes) as a 200, 206, 304 or 416 answer to
    ``request``; the handle is closed when the response is."""
    modified = int(last_modified.timestamp()) if last_modified else None
    conditional = get_conditional_response(request, etag=etag, last_modified=modified)
    if conditional is not None:  # 304 Not Modified (or 412)
        handle.close()
        return conditional
    try:
        wanted = (
            parse_range(request.headers.get("Range"), size)
            if request.method in ("GET", "HEAD") and _if_range_matches(request, etag, last_modified)
            else None
        )
    except Unsatisfiable:
        handle.close()
        response = HttpResponse(status=416, content_type="text/plain; charset=utf-8")
        response.content = b"The requested range is beyond the end of the file.\n"
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if wanted is None:
        response = FileResponse(
            handle, content_type=content_type, as_attachment=as_attachment, filename=filename
        )
        response["Content-Length"] = str(size)
    else:
        first, last = wanted
        response = StreamingHttpResponse(
            _FileSlice(handle, first, last - first + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
        response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-cache"
    if etag:
        response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(modified)
    return response


def storage_direct_url(
    storage: Storage, name: str, *, filename: str, as_attachment: bool
) -> str | None:
    """The storage's own absolute ``http(s)`` URL for ``name``, when it serves its files
    itself (S3's signed URLs, a CDN…); ``None`` for the local filesystem (its MEDIA_URL would
    skip the pages' permission check and may not be served at all) and for relative URLs."""
    if isinstance(storage, FileSystemStorage):
        return None
    url = None
    if as_attachment:
        # django-storages' S3 storage signs response headers into the URL.
        try:
            url = storage.url(
                name,
                parameters={
                    "ResponseContentDisposition": content_disposition_header(True, filename)
                },
            )
        except TypeError:
            url = None
    try:
        url = url or storage.url(name)
    except NotImplementedError:
        return None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def serve_stored_file(
    request: HttpRequest,
    storage: Storage,
    name: str,
    *,
    content_type: str,
    filename: str,
    as_attachment: bool = False,
    etag: str | None = None,
    last_modified: datetime | None = None,
) -> HttpResponse:
    """A stored file, by the one rule (the pages and the admin): the storage's own URL when it
    serves its files (S3), else from here with HTTP ranges (a video seeks). A file gone from
    storage is a 404."""
    direct = storage_direct_url(storage, name, filename=filename, as_attachment=as_attachment)
    if direct is not None:
        return HttpResponseRedirect(direct)
    try:
        handle = storage.open(name, "rb")
        size = handle.size
    except (OSError, ValueError) as err:
        raise Http404("This file is missing.") from err
    return stored_file_response(
        request,
        handle,
        size=size,
        content_type=content_type,
        filename=filename,
        etag=etag,
        last_modified=last_modified,
        as_attachment=as_attachment,
    )
