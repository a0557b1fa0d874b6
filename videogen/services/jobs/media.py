"""``data:`` media of job requests (frame images, input references), kept as files.

A request may carry its images, audio or video inline as ``data:`` URLs of up to
``request.MAX_DATA_URL_BYTES`` each. Kept in the job row they would be read by every list of
jobs and sent back by the API, megabytes per job. So when a job is created each ``data:``
URL is decoded and saved to the outputs' storage (``OUTPUT_STORAGE``), in the job's own
folder (``<OUTPUT_PATH_PREFIX>/<workspace>/<YYYY/MM>/<job uuid>/inputs/``), and the row keeps
a small reference in its place::

    {"type": "image_url", "image_url": {"stored": {"name": "<storage name>",
        "prefix": "data:image/png;base64,", "media_type": "image/png",
        "size_bytes": 48213, "sha256": "…"}}, "frame_type": "first_frame"}

At submission the ``data:`` URL is rebuilt from the file (``job_request_body``). Readers
show the reference (``media_describe``), never the bytes. https:// URLs stay as they are.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import logging
import mimetypes
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import VideoJob, Workspace
from videogen.services.jobs.request_checks import DATA_URL_RE, REFERENCE_KINDS

logger = logging.getLogger(__name__)

MEDIA_FIELDS = ("frame_images", "input_references")
STORED = "stored"


class MediaUnavailable(Exception):
    """A stored input of the job cannot be read back (deleted, storage down)."""


@dataclass(frozen=True)
class _Inline:
    field: str
    index: int
    kind: str  # image_url, audio_url or video_url
    prefix: str  # "data:image/png;base64,"
    media_type: str
    data: bytes


def _storage():
    return storages[videogen_settings.OUTPUT_STORAGE]


def _media_parts(request: dict[str, Any]) -> Iterator[tuple[str, int, str, dict]]:
    """``(field, index, kind, {"url": …} or {"stored": …})`` of every media part."""
    for field in MEDIA_FIELDS:
        for index, part in enumerate(request.get(field) or []):
            kind = part.get("type")
            inner = part.get(kind) if kind in REFERENCE_KINDS else None
            if isinstance(inner, dict):
                yield field, index, kind, inner


def _decode(field: str, index: int, kind: str, url: str) -> _Inline:
    match = DATA_URL_RE.fullmatch(url)
    payload = match["payload"] if match else ""
    try:
        data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if match is None or not data:
        message = f"Item {index + 1}: the data: URL is not valid base64."
        raise ValidationError({field: [ValidationError(message, code="invalid_url")]})
    return _Inline(
        field=field,
        index=index,
        kind=kind,
        prefix=url[: len(url) - len(payload)],
        media_type=match["mime"].lower(),
        data=data,
    )


def _path(workspace: Workspace, public_id: uuid.UUID, item: _Inline) -> str:
    extension = mimetypes.guess_extension(item.media_type) or ".bin"
    return (
        f"{videogen_settings.OUTPUT_PATH_PREFIX}/{workspace.slug}/{timezone.now():%Y/%m}/"
        f"{public_id}/inputs/{item.field}-{item.index}{extension}"
    )


@contextlib.contextmanager
def inline_media_stored(
    *, request: dict[str, Any], workspace: Workspace, public_id: uuid.UUID
) -> Iterator[dict[str, Any]]:
    """Save the ``data:`` media of a cleaned request; yield the request with references.

    The files are written before the caller's transaction starts (an upload to S3 must not
    hold database locks) and deleted again if the ``with`` block fails (a budget refusal, a
    database error), so a job that was never created leaves nothing behind. Raises
    ``ValidationError`` for a ``data:`` URL whose payload is not base64.
    """
    inline = [
        _decode(field, index, kind, inner["url"])
        for field, index, kind, inner in _media_parts(request)
        if isinstance(inner.get("url"), str) and inner["url"][:5].lower() == "data:"
    ]
    if not inline:
        yield request
        return
    result = copy.deepcopy(request)
    saved: list[str] = []
    try:
        for item in inline:
            name = _storage().save(_path(workspace, public_id, item), ContentFile(item.data))
            saved.append(name)
            result[item.field][item.index][item.kind] = {
                STORED: {
                    "name": name,
                    "prefix": item.prefix,
                    "media_type": item.media_type,
                    "size_bytes": len(item.data),
                    "sha256": hashlib.sha256(item.data).hexdigest(),
                }
            }
        yield result
    except BaseException:
        for name in saved:
            try:
                _storage().delete(name)
            except OSError:
                logger.warning("videogen: could not delete input %s of a job not created", name)
        raise


def job_request_body(*, job: VideoJob) -> dict[str, Any]:
    """The ``VideoGenerationRequest`` to send for ``job``, stored media back as ``data:`` URLs.

    Raises ``MediaUnavailable`` when a stored input cannot be read.
    """
    payload = job.request_payload()
    for _field, _index, _kind, inner in _media_parts(payload):
        reference = inner.get(STORED)
        if reference is None:
            continue
        try:
            with _storage().open(reference["name"], "rb") as handle:
                data = handle.read()
        except (OSError, KeyError, TypeError) as err:
            raise MediaUnavailable(
                f"The job's input {reference.get('name')!r} cannot be read from storage: {err}"
            ) from err
        inner.clear()
        inner["url"] = reference["prefix"] + base64.b64encode(data).decode("ascii")
    return payload


def media_describe(inner: dict[str, Any]) -> dict[str, Any]:
    """What readers are shown of one media part: the https:// URL as given, or for media
    sent as ``data:`` (stored, or inline in rows older than this module) its type, size
    and digest, never the bytes."""
    reference = inner.get(STORED)
    if reference is not None:
        return {
            "url": None,
            "media_type": reference.get("media_type"),
            "size_bytes": reference.get("size_bytes"),
            "sha256": reference.get("sha256"),
        }
    url = inner.get("url")
    if isinstance(url, str) and url[:5].lower() == "data:":
        match = DATA_URL_RE.fullmatch(url)
        payload = match["payload"] if match else ""
        return {
            "url": None,
            "media_type": match["mime"].lower() if match else None,
            "size_bytes": len(payload) * 3 // 4 - payload.count("=") if match else None,
            "sha256": None,
        }
    return {"url": url, "media_type": None, "size_bytes": None, "sha256": None}


@dataclass(frozen=True)
class JobInput:
    """One media input of a job as the pages show it: an https:// URL given by the user, or a
    file the site stored from a ``data:`` URL (``storage_name``)."""

    field: str
    index: int
    kind: str  # image_url, audio_url or video_url
    frame_type: str  # first_frame / last_frame for frame images, "" otherwise
    url: str | None
    storage_name: str | None
    media_type: str | None
    sha256: str | None

    @property
    def storage(self):
        """Where ``storage_name`` is kept (the outputs' storage)."""
        return _storage()


def job_inputs(*, job: VideoJob) -> list[JobInput]:
    """The job's frame images and input references, in request order."""
    inputs = []
    for field, index, kind, inner in _media_parts(job.request_payload()):
        part = (getattr(job, field) or [])[index]
        reference = inner.get(STORED)
        reference = reference if isinstance(reference, dict) else {}
        url = inner.get("url")
        is_https = isinstance(url, str) and url[:8].lower() == "https://"
        inputs.append(
            JobInput(
                field=field,
                index=index,
                kind=kind,
                frame_type=part.get("frame_type") or "",
                url=url if is_https else None,
                storage_name=reference.get("name"),
                media_type=reference.get("media_type"),
                sha256=reference.get("sha256"),
            )
        )
    return inputs
