"""Receiving OpenRouter's webhooks: verify, store, deduplicate, apply, answer.

A fixed pipeline (django-anymail's shape), with dj-stripe's habit of storing every
delivery so staff can see and replay it:

1. body over the cap → 413 (recorded without the body);
2. signature checked over the raw bytes against every configured secret, in constant
   time, timestamp within the tolerance both ways → 401 (recorded, never processed);
3. JSON envelope parsed → 400 (recorded);
4. the delivery row is inserted under its idempotency key; a key already processed is a
   duplicate → 204 without processing (a concurrent insert re-reads the winner, and a
   request finding the row locked by the one processing it answers the same);
5. the event is applied through the lifecycle function (source: webhook) → 204; an unknown
   job or event type is recorded and answered 204 so the provider stops retrying.
Database trouble anywhere answers 503 so the provider retries. Only verified deliveries
claim an idempotency key, so a forged request can never mark a real event as seen.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import EventSource, VideoJob, WebhookDelivery, WebhookOutcome
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError
from videogen.provider.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    verify_signature,
)
from videogen.provider.types import VideoJobSnapshot, VideoStatus, parse_status
from videogen.services.lifecycle import job_apply_snapshot

logger = logging.getLogger(__name__)

EVENT_PREFIX = "video.generation."
_STORED_HEADERS = (SIGNATURE_HEADER, IDEMPOTENCY_HEADER, "Content-Type", "User-Agent")
_DONE = frozenset(
    {
        WebhookOutcome.PROCESSED,
        WebhookOutcome.DUPLICATE,
        WebhookOutcome.UNKNOWN_JOB,
        WebhookOutcome.IGNORED,
    }
)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    message: str
    delivery_id: int | None = None


class _Rejected(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Django's request.headers is case-insensitive; plain dicts (tests, replay) may not be.
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name in _STORED_HEADERS:
        value = _header(headers, name)
        if value is not None:
            kept[name] = value[:1000].replace("\x00", "\ufffd")
    return kept


def _decode(body: bytes) -> str:
    # PostgreSQL text and jsonb cannot hold NUL: store it as U+FFFD, like undecodable bytes.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _record_rejection(
    *, body: bytes | None, headers: Mapping[str, str], error: str, signature_valid: bool | None
) -> int | None:
    """Keep a trace of a refused delivery (never under its idempotency key)."""
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                idempotency_key=None,
                headers=_stored_headers(headers),
                body=_decode(body) if body is not None else "",
                signature_valid=signature_valid,
                outcome=WebhookOutcome.REJECTED,
                error=error[:2000],
                processed_at=timezone.now(),
            )
    except DatabaseError:
        logger.warning("videogen: could not record a rejected webhook (%s)", error)
        return None
    return delivery.pk


def _verify(body: bytes, headers: Mapping[str, str]) -> bool | None:
    """True when verified, None when unsigned but allowed; raises _Rejected (401)."""
    header = _header(headers, SIGNATURE_HEADER)
    if not header and videogen_settings.WEBHOOK_ALLOW_UNSIGNED:
        return None
    secrets = list(videogen_settings.WEBHOOK_SECRETS or [])
    if not secrets:
        raise _Rejected(
            401, "No webhook secret configured: set VIDEOGEN['WEBHOOK_SECRETS'] to verify webhooks."
        )
    try:
        verify_signature(
            secrets=secrets,
            body=body,
            header=header,
            tolerance_seconds=int(videogen_settings.WEBHOOK_TOLERANCE_SECONDS),
        )
    except SignatureError as err:
        raise _Rejected(401, f"Invalid webhook signature: {err}.") from err
    return True


@dataclass(frozen=True)
class _Envelope:
    event_type: str
    data: dict[str, Any]
    provider_job_id: str


def _parse(body: bytes) -> _Envelope:
    try:
        envelope = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as err:
        raise _Rejected(400, f"Body is not JSON: {err}.") from err
    if not isinstance(envelope, dict):
        raise _Rejected(400, "Envelope must be a JSON object.")
    event_type = envelope.get("type")
    data = envelope.get("data")
    if not isinstance(event_type, str) or not event_type:
        raise _Rejected(400, "Envelope has no 'type'.")
    if not isinstance(data, dict):
        raise _Rejected(400, "Envelope has no 'data' object.")
    job_id = data.get("id")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 200:
        raise _Rejected(400, "Envelope 'data' has no job 'id'.")
    return _Envelope(event_type=event_type[:100], data=data, provider_job_id=job_id)


def webhook_receive(
    *, body: bytes | None, headers: Mapping[str, str], callback_ref: str | None = None
) -> WebhookAnswer:
    """Run the pipeline on one request. ``body`` is None when it exceeded the cap;
    ``callback_ref`` is the job reference carried by the callback URL (``?ref=``)."""
    try:
        return _receive(body, headers, callback_ref)
    except DatabaseError as err:
        logger.warning("videogen: database unavailable for a webhook: %s", err)
        return WebhookAnswer(503, "Database unavailable; retry later.")


def _receive(
    body: bytes | None, headers: Mapping[str, str], callback_ref: str | None
) -> WebhookAnswer:
    if body is None:
        message = (
            f"Body larger than {videogen_settings.WEBHOOK_MAX_BODY_BYTES} bytes "
            "(VIDEOGEN['WEBHOOK_MAX_BODY_BYTES'])."
        )
        return WebhookAnswer(
            413,
            message,
            _record_rejection(body=None, headers=headers, error=message, signature_valid=None),
        )
    try:
        signature_valid = _verify(body, headers)
    except _Rejected as rejected:
        delivery_id = _record_rejection(
            body=body, headers=headers, error=rejected.message, signature_valid=False
        )
        return WebhookAnswer(rejected.status_code, rejected.message, delivery_id)
    try:
        envelope = _parse(body)
    except _Rejected as rejected:
        delivery_id = _record_rejection(
            body=body, headers=headers, error=rejected.message, signature_valid=signature_valid
        )
        return WebhookAnswer(rejected.status_code, rejected.message, delivery_id)

    key = (_header(headers, IDEMPOTENCY_HEADER) or "").strip()[:300] or (
        f"{envelope.provider_job_id}-{envelope.data.get('status')}"
    )
    # Cheap path for retries: one indexed read answers a duplicate (the key is unique, so
    # neither an ORDER BY nor a model instance is needed).
    found = list(
        WebhookDelivery.objects.filter(idempotency_key=key)
        .order_by()
        .values_list("pk", "outcome")[:1]
    )
    if found and found[0][1] in _DONE:
        return WebhookAnswer(204, "Duplicate delivery; already processed.", found[0][0])
    if found:
        delivery_id = found[0][0]
    else:
        try:
            with transaction.atomic():
                delivery_id = WebhookDelivery.objects.create(
                    idempotency_key=key,
                    event_type=envelope.event_type,
                    provider_job_id=envelope.provider_job_id,
                    headers=_stored_headers(headers),
                    body=_decode(body),
                    signature_valid=signature_valid,
                ).pk
        except IntegrityError:
            # A concurrent delivery of the same event won the insert: it processes it.
            winner = WebhookDelivery.objects.filter(idempotency_key=key).only("pk").first()
            return WebhookAnswer(204, "Duplicate delivery; already received.", winner and winner.pk)
    return _process_claimed(delivery_id, envelope, callback_ref)


def _process_claimed(
    delivery_id: int, envelope: _Envelope, callback_ref: str | None = None
) -> WebhookAnswer:
    """Process a stored, unfinished delivery unless another request is processing it.

    The delivery row stays locked (``FOR UPDATE SKIP LOCKED``; SQLite serialises writers
    anyway) until its outcome is written, so of concurrent requests carrying one event
    exactly one applies it; the others answer 204 as duplicates. A failure rolls back to
    the stored, unprocessed row (answered 503), which the provider's retry processes.
    """
    with transaction.atomic():
        delivery = next(
            iter(
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=delivery_id)
                .order_by()
                .only("pk", "outcome")[:1]
            ),
            None,
        )
        if delivery is None:
            return WebhookAnswer(204, "Duplicate delivery; being processed.", delivery_id)
        if delivery.outcome in _DONE:
            return WebhookAnswer(204, "Duplicate delivery; already processed.", delivery_id)
        return webhook_process(delivery=delivery, envelope=envelope, callback_ref=callback_ref)


def webhook_process(
    *,
    delivery: WebhookDelivery,
    envelope: _Envelope | None = None,
    callback_ref: str | None = None,
) -> WebhookAnswer:
    """Apply a stored delivery's event (first time, a retry after an error, or a replay)."""
    started = time.monotonic()
    envelope = envelope or _parse(delivery.body.encode())
    outcome, message, job_id, error = _apply(envelope, callback_ref)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        outcome=outcome,
        job_id=job_id,
        error=error,
        processed_at=timezone.now(),
        processing_ms=int((time.monotonic() - started) * 1000),
    )
    status_code = 503 if outcome == WebhookOutcome.ERROR else 204
    return WebhookAnswer(status_code, message, delivery.pk)


def _job_for_event(envelope: _Envelope, callback_ref: str | None) -> tuple[int | None, bool]:
    """``(job id, bind)``: the job this event is about, and whether it must be bound to the
    event's provider job id because its submission's answer never arrived."""
    # provider_job_id is unique: at most one row, no ORDER BY needed.
    known = list(
        VideoJob.objects.filter(provider_job_id=envelope.provider_job_id)
        .order_by()
        .values_list("pk", flat=True)[:1]
    )
    if known:
        return known[0], False
    if not callback_ref or len(callback_ref) > 64:
        return None, False
    # The callback URL named a job that has no provider id yet (outcome unknown, or given
    # up on): the provider created it after all. The model must agree.
    candidate = list(
        VideoJob.objects.filter(callback_ref=callback_ref, provider_job_id__isnull=True)
        .order_by()
        .values_list("pk", "model")[:1]
    )
    if not candidate:
        return None, False
    job_id, model = candidate[0]
    event_model = envelope.data.get("model")
    if event_model is not None and event_model != model:
        logger.warning(
            "videogen: callback reference of job %s came with model %r, not %r; not bound",
            job_id,
            event_model,
            model,
        )
        return None, False
    return job_id, True


def _apply(
    envelope: _Envelope, callback_ref: str | None = None
) -> tuple[str, str, int | None, str]:
    """Returns (outcome, message, job id, error)."""
    status = envelope.event_type.removeprefix(EVENT_PREFIX)
    if not envelope.event_type.startswith(EVENT_PREFIX) or parse_status(status) in (
        VideoStatus.UNKNOWN,
    ):
        return WebhookOutcome.IGNORED, f"Event type {envelope.event_type!r} not handled.", None, ""
    job_id, bind = _job_for_event(envelope, callback_ref)
    if job_id is None:
        return WebhookOutcome.UNKNOWN_JOB, "No job with this provider id; recorded.", None, ""
    try:
        snapshot = _snapshot(envelope, status)
    except ProviderError as err:
        return (
            WebhookOutcome.ERROR,
            "Could not confirm the event with the provider.",
            job_id,
            str(err),
        )
    except ValueError as err:
        return WebhookOutcome.REJECTED, f"Event data is not a video job: {err}.", job_id, str(err)
    fields = {"provider_job_id": envelope.provider_job_id} if bind else None
    result = job_apply_snapshot(
        job_id=job_id,
        snapshot=snapshot,
        source=EventSource.WEBHOOK,
        fields=fields,
        message=f"bound to provider job {envelope.provider_job_id} by its callback" if bind else "",
    )
    message = (
        f"Job moved {result.from_status} → {result.to_status}."
        if result.changed
        else f"Job already {result.to_status}; nothing to change."
    )
    if bind and result.changed:
        message += " Bound to its provider job by the callback reference."
    return WebhookOutcome.PROCESSED, message, job_id, ""


def _snapshot(envelope: _Envelope, status: str) -> VideoJobSnapshot:
    if videogen_settings.WEBHOOK_CONFIRM_BY_POLLING:
        # Trust the provider's own answer, not the request's claim.
        return get_client().get_video(envelope.provider_job_id)
    data = {"status": status, **envelope.data}
    data.setdefault("polling_url", "")
    return VideoJobSnapshot.from_json(data)


def webhook_replay(*, delivery_id: int) -> WebhookAnswer:
    """Staff's replay of a stored, verified delivery (the admin action)."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.signature_valid is False or delivery.outcome == WebhookOutcome.REJECTED:
        return WebhookAnswer(400, "Rejected deliveries are never replayed.", delivery.pk)
    try:
        envelope = _parse(delivery.body.encode())
    except _Rejected as rejected:
        return WebhookAnswer(rejected.status_code, rejected.message, delivery.pk)
    return webhook_process(delivery=delivery, envelope=envelope)
