"""Receiving OpenRouter's webhooks: verify, parse, store, deduplicate, apply, answer.

A fixed pipeline (django-anymail's shape), with dj-stripe's habit of storing the deliveries
worth keeping so staff can see and replay them:

1. body over the cap → 413;
2. signature checked over the raw bytes against every configured secret, in constant
   time, timestamp within the tolerance both ways → 401. A request without a signature
   header is not stored at all (nobody fills the database for free); a bad signature is
   stored as ``rejected`` with its reason and a short escaped excerpt, never its body;
3. the JSON is parsed depth-checked and every value that will be stored or used is checked
   against ``videogen.hygiene`` and its column's length *before* any write. A signed event
   that fails is stored as ``unprocessable`` (excerpt + reason) and acknowledged (200) so
   the provider stops resending it; the poller finishes its job;
4. the idempotency key is derived from what the signature covers (``<data.id>-<status>``);
   the ``X-OpenRouter-Idempotency-Key`` header is recorded and ignored when it disagrees.
   One indexed read answers a duplicate (a key already processed → 204) and finds the job
   of a first delivery;
5. the event is prepared outside any transaction (with ``WEBHOOK_CONFIRM_BY_POLLING`` the
   provider's own answer), then, in ONE transaction without savepoints, applied through the
   lifecycle function and the delivery stored with its outcome under its key (``INSERT …
   ON CONFLICT DO NOTHING``: a concurrent copy that finds the key taken rolls back and
   answers as a duplicate) → 204. An unknown job or event type is recorded and answered
   204. A delivery stored earlier and left unfinished (a 503) is locked and applied. An
   error the payload causes while applying rolls it all back; the delivery is then stored
   ``unprocessable`` under its key and acknowledged (200).

503 only when the database is unavailable (or the confirmation poll failed), so the provider
retries; an error caused by the payload is never answered 5xx. Only verified deliveries claim
an idempotency key, so a forged request can never mark a real event as seen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.utils import timezone

from videogen import hygiene
from videogen.conf import videogen_settings
from videogen.models import EventSource, UsageEntry, VideoJob, WebhookDelivery, WebhookOutcome
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError
from videogen.provider.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    verify_signature,
)
from videogen.provider.types import VideoJobSnapshot, VideoStatus, VideoUsage, parse_status
from videogen.services.jobs.lifecycle import ConcurrentUpdateError, job_apply_snapshot
from videogen.services.rows import insert_unless_taken

logger = logging.getLogger(__name__)

EVENT_PREFIX = "video.generation."
# Characters of a refused or unprocessable body kept (escaped) for staff to recognise it.
EXCERPT_CHARS = 200
MAX_CALLBACK_REF_LENGTH = WebhookDelivery._meta.get_field("callback_ref").max_length
_STORED_HEADERS = (SIGNATURE_HEADER, IDEMPOTENCY_HEADER, "Content-Type", "User-Agent")
_HEADER_CHARS = 300
_DONE = frozenset(
    {
        WebhookOutcome.PROCESSED,
        WebhookOutcome.DUPLICATE,
        WebhookOutcome.UNKNOWN_JOB,
        WebhookOutcome.IGNORED,
        WebhookOutcome.UNPROCESSABLE,
    }
)
# Raised by a write the payload made impossible: never the database's fault, never a 5xx.
_PAYLOAD_ERRORS = (DataError, IntegrityError, ValueError, RecursionError, UnicodeError)


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


# Every string of an event that lands in a column, with the smallest column it lands in.
_LIMITS = {
    "type": _max_length(WebhookDelivery, "event_type"),
    "data.id": min(
        _max_length(VideoJob, "provider_job_id"), _max_length(WebhookDelivery, "provider_job_id")
    ),
    "data.status": _max_length(VideoJob, "provider_status"),
    "data.generation_id": _max_length(VideoJob, "generation_id"),
    "data.polling_url": _max_length(VideoJob, "polling_url"),
}
_COST_FIELD = UsageEntry._meta.get_field("cost")
# The largest amount the money columns hold (max_digits 18, 8 decimal places: < 10^10).
_COST_LIMIT = Decimal(10) ** (_COST_FIELD.max_digits - _COST_FIELD.decimal_places)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    message: str
    delivery_id: int | None = None


class _Refused(Exception):
    """Not verified: answered 4xx; ``store`` says whether a trace is kept."""

    def __init__(self, status_code: int, message: str, *, store: bool = True):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.store = store


class _Unprocessable(Exception):
    """A verified delivery whose event cannot be stored or applied as it is."""


@dataclass(frozen=True)
class _Envelope:
    text: str  # the body, decoded
    event_type: str
    status: str  # data.status, else the type's suffix
    data: dict[str, Any]
    provider_job_id: str
    handled: bool  # a video.generation.<status> event this version applies

    @property
    def idempotency_key(self) -> str | None:
        """Bound to the signed body. An event type we do not handle claims no key, so it
        can never make a handled event of the same job and status look like a duplicate."""
        return f"{self.provider_job_id}-{self.status}" if self.handled else None


@dataclass(frozen=True)
class _Plan:
    """What applying an event takes, worked out before any lock is held."""

    outcome: str
    message: str
    job_id: int | None = None
    snapshot: VideoJobSnapshot | None = None
    error: str = ""
    # The job's submission answer was lost: bind it to the event's provider job id.
    bind: bool = False


# --- entry points ---------------------------------------------------------------------------


def webhook_receive(
    *, body: bytes | None, headers: Mapping[str, str], callback_ref: str | None = None
) -> WebhookAnswer:
    """Run the pipeline on one request. ``body`` is None when it exceeded the cap;
    ``callback_ref`` is the callback URL's ``?ref=`` (ignored unless clean and short)."""
    try:
        return _receive(body, headers, _clean_callback_ref(callback_ref))
    except (OperationalError, InterfaceError) as err:
        logger.warning("videogen: database unavailable for a webhook: %s", err)
        return WebhookAnswer(503, "Database unavailable; retry later.")
    except DatabaseError as err:
        # Not the payload's doing (that is checked before writing): a schema being migrated,
        # a server-side failure. The provider's retry may well succeed.
        logger.exception("videogen: database error while receiving a webhook")
        return WebhookAnswer(503, f"Database error ({type(err).__name__}); retry later.")


def webhook_replay(*, delivery_id: int) -> WebhookAnswer:
    """Staff's replay of a stored, verified delivery (the admin action)."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.signature_valid is False or delivery.outcome == WebhookOutcome.REJECTED:
        return WebhookAnswer(400, "Rejected deliveries are never replayed.", delivery.pk)
    if delivery.outcome == WebhookOutcome.UNPROCESSABLE:
        return WebhookAnswer(
            400,
            "Unprocessable deliveries are not replayed; the poller completes the job.",
            delivery.pk,
        )
    try:
        envelope = _parse(delivery.body.encode())
    except _Unprocessable as err:
        return WebhookAnswer(400, str(err), delivery.pk)
    started = time.monotonic()
    plan = _plan(envelope, delivery.callback_ref)
    try:
        with transaction.atomic():
            list(WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).values("pk"))
            return _apply(WebhookDelivery(pk=delivery.pk), plan, started)
    except _PAYLOAD_ERRORS as err:
        return _mark_unapplied(delivery.pk, err)


# --- the pipeline ---------------------------------------------------------------------------


def _receive(body: bytes | None, headers: Mapping[str, str], callback_ref: str) -> WebhookAnswer:
    signature = (_header(headers, SIGNATURE_HEADER) or "").strip()
    try:
        if body is None:
            raise _Refused(
                413,
                f"Body larger than {videogen_settings.WEBHOOK_MAX_BODY_BYTES} bytes "
                "(VIDEOGEN['WEBHOOK_MAX_BODY_BYTES']).",
                store=bool(signature),
            )
        signature_valid = _verify(body, signature)
    except _Refused as refused:
        delivery_id = None
        if refused.store:
            delivery_id = _record_refused(
                body=body, headers=headers, reason=refused.message, callback_ref=callback_ref
            )
        return WebhookAnswer(refused.status_code, refused.message, delivery_id)

    try:
        envelope = _parse(body)
    except _Unprocessable as err:
        return _acknowledge_unprocessable(
            body=body,
            headers=headers,
            reason=str(err),
            signature_valid=signature_valid,
            callback_ref=callback_ref,
        )

    key = envelope.idempotency_key
    claimed = (_header(headers, IDEMPOTENCY_HEADER) or "").strip()
    seen = _seen(key, envelope.provider_job_id) if key is not None else _NOTHING_SEEN
    if seen.outcome in _DONE:
        return WebhookAnswer(204, "Duplicate delivery; already processed.", seen.delivery_id)
    if seen.delivery_id is not None:
        # Stored by an earlier attempt that did not finish (a 503): lock it and apply.
        return _process_claimed(seen.delivery_id, envelope, callback_ref)
    delivery = WebhookDelivery(
        idempotency_key=key,
        idempotency_header_mismatch=bool(claimed) and claimed != (key or ""),
        event_type=envelope.event_type,
        provider_job_id=envelope.provider_job_id,
        callback_ref=callback_ref,
        headers=_stored_headers(headers),
        body=envelope.text,
        signature_valid=signature_valid,
    )
    return _process_new(delivery, envelope, body, headers, seen.job_id)


@dataclass(frozen=True)
class _Seen:
    delivery_id: int | None  # the delivery stored under the event's key, if any
    outcome: str | None  # … and its outcome
    job_id: int | None  # the job with the event's provider job id, if any


_NOTHING_SEEN = _Seen(None, None, None)


def _seen(key: str, provider_job_id: str) -> _Seen:
    """One indexed round trip: a retry is answered by it alone, and a first delivery learns
    its job without a second one. (Raw SQL: building this query through the ORM cost more
    CPU than the rest of a duplicate's handling in the receiver; see docs/benchmarks.md.)"""
    delivery, job = WebhookDelivery._meta, VideoJob._meta
    connection = connections[router.db_for_read(WebhookDelivery)]
    quote = connection.ops.quote_name

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    # Only the models' quoted names are formatted in; both values are parameters.
    sql = (
        f"SELECT d.{quote(delivery.pk.column)}, d.{column(delivery, 'outcome')}, "  # noqa: S608
        f"(SELECT j.{quote(job.pk.column)} FROM {quote(job.db_table)} j "
        f"WHERE j.{column(job, 'provider_job_id')} = %s) "
        f"FROM (SELECT 1) one LEFT JOIN {quote(delivery.db_table)} d "
        f"ON d.{column(delivery, 'idempotency_key')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [provider_job_id, key])
        return _Seen(*cursor.fetchone())


def _process_new(
    delivery: WebhookDelivery,
    envelope: _Envelope,
    body: bytes,
    headers: Mapping[str, str],
    job_id: int | None,
) -> WebhookAnswer:
    """Apply a first delivery and store it with its outcome in one transaction.

    The job's change and the delivery row commit together or not at all, so the delivery
    is written last, already knowing its outcome. Its idempotency key is claimed by
    ``INSERT … ON CONFLICT DO NOTHING``: of concurrent copies of one event, those that find
    the key taken roll back (their apply changed nothing: the job row lock made them wait for
    the winner's commit) and answer as duplicates. Nothing here takes a savepoint.
    """
    started = time.monotonic()
    plan = _plan(envelope, delivery.callback_ref, job_id, job_looked_up=True)
    try:
        with transaction.atomic():
            answer = _apply(delivery, plan, started)
            if answer is None:
                raise _AlreadyReceived
            return answer
    except _AlreadyReceived:
        winner = (
            WebhookDelivery.objects.filter(idempotency_key=delivery.idempotency_key)
            .values_list("pk", flat=True)
            .first()
        )
        return WebhookAnswer(204, "Duplicate delivery; already received.", winner)
    except _PAYLOAD_ERRORS as err:
        # Everything rolled back; the delivery is recorded on its own and acknowledged.
        return _store_unapplied(delivery, body, headers, err)
    except (DatabaseError, InterfaceError):
        # Keep the delivery if the database lets us, for staff to see; the provider's
        # retry applies it (webhook_receive answers 503).
        _store_received(delivery)
        raise


class _AlreadyReceived(Exception):
    """A concurrent copy of the event stored its delivery first: roll back, a duplicate."""


def _store_unapplied(
    delivery: WebhookDelivery, body: bytes, headers: Mapping[str, str], err: BaseException
) -> WebhookAnswer:
    """A verified event that could not be applied: keep it under its key (a retry is a
    duplicate) and answer 200 so the provider stops; the poller finishes the job."""
    delivery.outcome = WebhookOutcome.UNPROCESSABLE
    delivery.error = hygiene.printable(f"{type(err).__name__}: {err}", 2000)
    delivery.processed_at = timezone.now()
    try:
        with transaction.atomic():
            stored = insert_unless_taken(delivery, unique_field="idempotency_key")
    except (DataError, ValueError) as store_err:  # not foreseen by _parse: still not a 5xx
        return _acknowledge_unprocessable(
            body=body,
            headers=headers,
            reason=hygiene.printable(f"Delivery could not be stored: {store_err}", 2000),
            signature_valid=delivery.signature_valid,
            callback_ref=delivery.callback_ref,
        )
    if not stored:
        return WebhookAnswer(204, "Duplicate delivery; already received.")
    return WebhookAnswer(
        200, "Event recorded but not applied; the job is left for the poller.", delivery.pk
    )


def _store_received(delivery: WebhookDelivery) -> None:
    """Best effort, after a database error: the delivery as received, not yet processed."""
    delivery.pk, delivery.outcome, delivery.error = None, WebhookOutcome.RECEIVED, ""
    delivery.job, delivery.processed_at, delivery.processing_ms = None, None, None
    try:
        with transaction.atomic():
            insert_unless_taken(delivery, unique_field="idempotency_key")
    except (DatabaseError, InterfaceError, ValueError):
        logger.warning("videogen: could not keep a webhook delivery after a database error")


def _process_claimed(delivery_id: int, envelope: _Envelope, callback_ref: str) -> WebhookAnswer:
    """Apply a stored, unfinished delivery unless another request is applying it.

    Everything slow (the confirmation poll) happens first, outside any transaction. Then
    the delivery row is locked (``FOR UPDATE SKIP LOCKED``; SQLite serialises writers
    anyway) until its outcome is written, so of concurrent requests carrying one event
    exactly one applies it; the others answer 204 as duplicates.
    """
    started = time.monotonic()
    plan = _plan(envelope, callback_ref)
    try:
        with transaction.atomic():
            outcome = next(
                iter(
                    WebhookDelivery.objects.select_for_update(skip_locked=True)
                    .filter(pk=delivery_id)
                    .order_by()
                    .values_list("outcome", flat=True)[:1]
                ),
                None,
            )
            if outcome is None:
                return WebhookAnswer(204, "Duplicate delivery; being processed.", delivery_id)
            if outcome in _DONE:
                return WebhookAnswer(204, "Duplicate delivery; already processed.", delivery_id)
            return _apply(WebhookDelivery(pk=delivery_id), plan, started)
    except _PAYLOAD_ERRORS as err:
        return _mark_unapplied(delivery_id, err)


def _mark_unapplied(delivery_id: int, err: BaseException) -> WebhookAnswer:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        outcome=WebhookOutcome.UNPROCESSABLE,
        error=hygiene.printable(f"{type(err).__name__}: {err}", 2000),
        processed_at=timezone.now(),
    )
    return WebhookAnswer(
        200, "Event recorded but not applied; the job is left for the poller.", delivery_id
    )


def _plan(
    envelope: _Envelope,
    callback_ref: str,
    job_id: int | None = None,
    *,
    job_looked_up: bool = False,
) -> _Plan:
    """Decide what the event does, reading (and polling the provider) without any lock.
    With ``job_looked_up``, ``job_id`` is the job with the event's provider job id (or None)."""
    if not envelope.handled:
        return _Plan(WebhookOutcome.IGNORED, f"Event type {envelope.event_type!r} not handled.")
    job_id, bind = _job_for_event(envelope, callback_ref, job_id, job_looked_up)
    if job_id is None:
        return _Plan(WebhookOutcome.UNKNOWN_JOB, "No job with this provider id; recorded.")
    if videogen_settings.WEBHOOK_CONFIRM_BY_POLLING:
        # Trust the provider's own answer, not the request's claim.
        try:
            snapshot = get_client().get_video(envelope.provider_job_id)
        except ProviderError as err:
            return _Plan(
                WebhookOutcome.ERROR,
                "Could not confirm the event with the provider.",
                job_id,
                error=hygiene.printable(str(err), 2000),
            )
    else:
        snapshot = VideoJobSnapshot.from_json(
            {"polling_url": "", **envelope.data, "status": envelope.status}
        )
    return _Plan(WebhookOutcome.PROCESSED, "", job_id, snapshot, bind=bind)


def _job_for_event(
    envelope: _Envelope, callback_ref: str, job_id: int | None, looked_up: bool
) -> tuple[int | None, bool]:
    """``(job id, bind)``: the site's job an event is about (or None), and whether it must be
    bound to the event's provider job id because its submission's answer never arrived.

    By the provider's job id first. Else by ``callback_ref``, the opaque ``?ref=`` token each
    submission's callback URL carries: it names a job that has no provider id yet (outcome
    unknown, or abandoned), which the provider created after all. The model must agree.
    With ``looked_up``, ``job_id`` is the job the provider's id names, already read.
    """
    if not looked_up:
        # provider_job_id is unique: at most one row, no ORDER BY needed.
        job_id = next(
            iter(
                VideoJob.objects.filter(provider_job_id=envelope.provider_job_id)
                .order_by()
                .values_list("pk", flat=True)[:1]
            ),
            None,
        )
    if job_id is not None:
        return job_id, False
    if not callback_ref:
        return None, False
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
            "videogen: the callback reference of job %s came with another model; not bound",
            job_id,
        )
        return None, False
    return job_id, True


def _apply(delivery: WebhookDelivery, plan: _Plan, started: float) -> WebhookAnswer | None:
    """Apply a plan and write the delivery's outcome, in the caller's transaction (which
    holds the stored delivery's lock, or writes a new one). A payload error propagates and
    leaves that transaction to roll back. None: a new delivery's key was taken meanwhile."""
    outcome, message, error, status_code = plan.outcome, plan.message, plan.error, 204
    if outcome == WebhookOutcome.ERROR:
        status_code = 503
    elif plan.snapshot is not None:
        try:
            bound = f"bound to provider job {plan.snapshot.id} by its callback"
            result = job_apply_snapshot(
                job_id=plan.job_id,
                snapshot=plan.snapshot,
                source=EventSource.WEBHOOK,
                fields={"provider_job_id": plan.snapshot.id} if plan.bind else None,
                message=bound if plan.bind else "",
                savepoint=False,
            )
        except ConcurrentUpdateError as err:
            outcome, status_code, error = WebhookOutcome.ERROR, 503, str(err)
            message = "The job is too busy; retry later."
        else:
            message = (
                f"Job moved {result.from_status} → {result.to_status}."
                if result.changed
                else f"Job already {result.to_status}; nothing to change."
            )
            if plan.bind and result.changed:
                message += " Bound to its provider job by the callback reference."
    outcome_fields = {
        "outcome": outcome,
        "job_id": plan.job_id,
        "error": error,
        "processed_at": timezone.now(),
        "processing_ms": int((time.monotonic() - started) * 1000),
    }
    if delivery.pk is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**outcome_fields)
    else:
        for name, value in outcome_fields.items():
            setattr(delivery, name, value)
        if delivery.idempotency_key is None:
            delivery.save(force_insert=True)
        elif not insert_unless_taken(delivery, unique_field="idempotency_key"):
            return None
    return WebhookAnswer(status_code, message, delivery.pk)


# --- verification and parsing ---------------------------------------------------------------


def _verify(body: bytes, signature: str) -> bool | None:
    """True when verified, None when unsigned but allowed; raises _Refused (401)."""
    if not signature:
        if videogen_settings.WEBHOOK_ALLOW_UNSIGNED:
            return None
        raise _Refused(401, f"Missing webhook signature ({SIGNATURE_HEADER} header).", store=False)
    secrets = videogen_settings.WEBHOOK_SECRETS
    if not secrets:
        raise _Refused(
            401, "No webhook secret configured: set VIDEOGEN['WEBHOOK_SECRETS'] to verify webhooks."
        )
    try:
        verify_signature(
            secrets=secrets,
            body=body,
            header=signature,
            tolerance_seconds=videogen_settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureError as err:
        raise _Refused(401, f"Invalid webhook signature: {err}.") from err
    return True


def _parse(body: bytes) -> _Envelope:
    """The event, every stored string checked; ``_Unprocessable`` naming what is wrong."""
    try:
        text = body.decode("utf-8")
        envelope = hygiene.loads(text)
    except hygiene.HostileInput as err:
        raise _Unprocessable(f"Body refused: {err.message}") from err
    except (ValueError, RecursionError) as err:
        raise _Unprocessable(f"Body is not JSON: {hygiene.printable(str(err))}.") from err
    if not isinstance(envelope, dict):
        raise _Unprocessable("Envelope must be a JSON object.")
    problem = hygiene.first_json_problem(envelope)
    if problem is not None:
        path, found = problem
        raise _Unprocessable(f"{hygiene.printable(path, 100)}: {found.message}")
    event_type, data = envelope.get("type"), envelope.get("data")
    if not isinstance(event_type, str) or not event_type:
        raise _Unprocessable("Envelope has no 'type'.")
    if not isinstance(data, dict):
        raise _Unprocessable("Envelope has no 'data' object.")
    job_id = data.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise _Unprocessable("Envelope 'data' has no job 'id'.")
    status = data.get("status")
    if status is None:
        status = event_type.removeprefix(EVENT_PREFIX)
    values = {
        "type": event_type,
        "data.id": job_id,
        "data.status": status,
        "data.generation_id": data.get("generation_id"),
        "data.polling_url": data.get("polling_url"),
    }
    for field, value in values.items():
        if value is None and field not in ("type", "data.id", "data.status"):
            continue
        if not isinstance(value, str):
            raise _Unprocessable(f"{field}: must be a string, not {type(value).__name__}.")
        problem = hygiene.text_problem(value, max_length=_LIMITS[field], multiline=False)
        if problem is not None:
            raise _Unprocessable(f"{field}: {problem.message}")
    usage = VideoUsage.from_json(data.get("usage"))  # the cost as the ledger would read it
    if usage is not None and usage.cost is not None and abs(usage.cost) >= _COST_LIMIT:
        raise _Unprocessable(f"data.usage.cost: more than the ledger holds (< {_COST_LIMIT}).")
    suffix = event_type.removeprefix(EVENT_PREFIX)
    handled = event_type.startswith(EVENT_PREFIX) and (
        parse_status(suffix) is not VideoStatus.UNKNOWN
    )
    return _Envelope(
        text=text,
        event_type=event_type,
        status=status,
        data=data,
        provider_job_id=job_id,
        handled=handled,
    )


# --- what is stored -------------------------------------------------------------------------


def _acknowledge_unprocessable(
    *,
    body: bytes,
    headers: Mapping[str, str],
    reason: str,
    signature_valid: bool | None,
    callback_ref: str,
) -> WebhookAnswer:
    """Store a verified delivery that cannot be applied (bounded, escaped) and answer 200:
    the provider would resend it unchanged until it gave up, and the poller completes its
    job anyway. It claims no idempotency key."""
    logger.warning("videogen: signed webhook not applied: %s", reason)
    delivery = WebhookDelivery.objects.create(
        idempotency_key=None,
        provider_job_id=_bounded_excerpt_of_id(body),
        callback_ref=callback_ref,
        headers=_stored_headers(headers),
        body=_excerpt(body),
        signature_valid=signature_valid,
        outcome=WebhookOutcome.UNPROCESSABLE,
        error=hygiene.printable(reason, 2000),
        processed_at=timezone.now(),
    )
    return WebhookAnswer(
        200, f"Recorded but not applied ({reason}); the job is left for the poller.", delivery.pk
    )


def _record_refused(
    *, body: bytes | None, headers: Mapping[str, str], reason: str, callback_ref: str
) -> int | None:
    """Keep a short trace of a refused delivery: never its body, never a key."""
    try:
        return WebhookDelivery.objects.create(
            idempotency_key=None,
            callback_ref=callback_ref,
            headers=_stored_headers(headers),
            body=_excerpt(body) if body is not None else "",
            signature_valid=False,
            outcome=WebhookOutcome.REJECTED,
            error=reason,
            processed_at=timezone.now(),
        ).pk
    except DatabaseError:
        logger.warning("videogen: could not record a refused webhook (%s)", reason)
        return None


def _bounded_excerpt_of_id(body: bytes) -> str:
    # Best effort, for staff's search: the escaped data.id of a body that may not be JSON.
    try:
        job_id = hygiene.loads(body)["data"]["id"]
    except (ValueError, RecursionError, LookupError, TypeError):
        return ""
    if not isinstance(job_id, str):
        return ""
    limit = _LIMITS["data.id"]
    return hygiene.printable(job_id, limit)[:limit]


def _excerpt(body: bytes) -> str:
    """The first ``EXCERPT_CHARS`` characters of ``body``, escaped (never the whole body)."""
    head = body[: EXCERPT_CHARS * 4]
    text = hygiene.printable(head.decode("utf-8", errors="replace"), EXCERPT_CHARS)
    if len(body) > len(head) and not text.endswith("…"):
        text += "…"
    return text


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Django's request.headers is case-insensitive; plain dicts (tests, replay) may not be.
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value if isinstance(value, str) else None


def _stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name in _STORED_HEADERS:
        value = _header(headers, name)
        if value is not None:
            kept[name] = hygiene.printable(value, _HEADER_CHARS)
    return kept


def _clean_callback_ref(value: Any) -> str:
    """The callback URL's ``?ref=`` if it is short, clean text; "" otherwise (ignored)."""
    if not isinstance(value, str):
        return ""
    if hygiene.text_problem(value, max_length=MAX_CALLBACK_REF_LENGTH, multiline=False):
        return ""
    return value
