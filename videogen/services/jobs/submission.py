"""Creating jobs and sending them to the provider, at most once.

A job is stored ``queued`` and its submission enqueued after commit. The submitting worker
claims it (compare-and-set ``queued → submitting``), POSTs, and stores the provider id in the
transition that follows. The provider has no idempotency key and no list of jobs, so a second
POST is a second bill: what happens after a failed POST is decided in one place,
``submit_outcome``:

- ``REFUSED``: the provider answered that it will not do it (400, 401, 402, 413, 422…): the
  job fails with the provider's message.
- ``RETRY``: the failure proves nothing was created (no connection was ever made, a 429, the
  provider's own documented error body): the job goes back to ``queued`` with backoff.
- ``UNKNOWN``: the request may have reached the provider (read timeout, reset after sending,
  a 2xx that does not parse, a 5xx that is not the provider's documented error): the job
  moves to ``unknown`` and is never POSTed again by the machine. Every submission's callback
  URL carries the job's opaque ``callback_ref``, so when the provider calls back for a job
  the site never heard of, the webhook binds it (``services.webhooks``); without a callback
  in ``UNKNOWN_OUTCOME_ATTENTION_SECONDS`` staff decide: *mark abandoned* (``job_abandon``)
  or *resubmit, may bill twice* (``job_resubmit``, which sends a new job and keeps the
  original recoverable).

An answer that carries a provider job id always binds it, whatever else is wrong with it. If
the process dies between the POST and its commit the job stays ``submitting``; the sweep
moves it to ``unknown`` after ``SUBMITTING_STALE_SECONDS``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import EventSource, JobEvent, JobStatus, VideoJob, Workspace
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError, ProviderTransientError
from videogen.provider.types import VideoJobSnapshot, VideoStatus
from videogen.services import queue
from videogen.services.jobs.lifecycle import Transition, job_apply_snapshot, job_transition
from videogen.services.jobs.media import MediaUnavailable, inline_media_stored, job_request_body
from videogen.services.jobs.request import REQUEST_FIELDS, JobRequest, validate_job_request
from videogen.services.money.budgets import (
    BudgetExceededError,
    budget_check_locked,
    budget_refusal_announce,
)
from videogen.services.money.estimates import estimate_cost
from videogen.services.retry import backoff_seconds

logger = logging.getLogger(__name__)

CALLBACK_REF_PARAMETER = "ref"


class SubmitOutcome(enum.StrEnum):
    REFUSED = "refused"
    RETRY = "retry"
    UNKNOWN = "unknown"


def submit_outcome(err: ProviderError) -> SubmitOutcome:
    """What a failed ``POST /videos`` means for the job (see the module docstring)."""
    if err.may_have_been_processed:
        return SubmitOutcome.UNKNOWN
    if isinstance(err, ProviderTransientError):
        return SubmitOutcome.RETRY
    return SubmitOutcome.REFUSED


def new_callback_ref() -> str:
    return secrets.token_urlsafe(24)


def submission_payload(job: VideoJob) -> dict[str, Any]:
    """The POST body: the job's request (stored ``data:`` media read back from storage), its
    callback URL carrying the job's reference when the callback is the site's own webhook.

    Raises ``MediaUnavailable`` when a stored input cannot be read.
    """
    payload = job_request_body(job=job)
    url = payload.get("callback_url")
    if url and job.callback_ref and url == videogen_settings.CALLBACK_URL:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != CALLBACK_REF_PARAMETER]
        query.append((CALLBACK_REF_PARAMETER, job.callback_ref))
        payload["callback_url"] = urlunsplit(parts._replace(query=urlencode(query)))
    return payload


def job_create(
    *,
    workspace: Workspace,
    data: Mapping[str, Any],
    created_by=None,
    source: str = EventSource.API,
) -> VideoJob:
    """Validate ``data``, store the job ``queued`` and enqueue its submission on commit.

    ``data`` is a request body, or a ``JobRequest`` already validated (by the API's
    serializer or the pages' form), which is not validated again.

    Raises ``django.core.exceptions.ValidationError`` (a dict of field errors) when the
    request does not fit the seed schema or the model's capabilities, and
    ``BudgetExceededError`` when the workspace's budget blocks it. ``data:`` media are
    stored as files and referenced from the row (``services.media``).
    """
    request = data if isinstance(data, JobRequest) else validate_job_request(data)
    cleaned = dict(request)  # the caller's stays as it was
    if not cleaned.get("callback_url") and videogen_settings.CALLBACK_URL:
        cleaned["callback_url"] = videogen_settings.CALLBACK_URL
    estimate = estimate_cost(model=request.catalog_entry, request=cleaned)
    try:
        return _job_store(
            workspace=workspace,
            request=cleaned,
            estimated_cost=estimate.cost,
            created_by=created_by,
            source=source,
        )
    except BudgetExceededError as refused:
        # After the rollback, outside the workspace lock (see budget_refusal_announce).
        budget_refusal_announce(refused)
        raise


def _job_store(
    *,
    workspace: Workspace,
    request: Mapping[str, Any],
    estimated_cost,
    created_by,
    source: str,
    public_id: uuid.UUID | None = None,
    resubmission_of: VideoJob | None = None,
    message: str = "",
) -> VideoJob:
    now = timezone.now()
    public_id = public_id or uuid.uuid4()
    with (
        # data: media saved first (no lock held while uploading), deleted if the job is not.
        inline_media_stored(request=dict(request), workspace=workspace, public_id=public_id) as row,
        transaction.atomic(),
    ):
        # The workspace stays locked until the job is stored: concurrent submitters queue here.
        budget_check_locked(workspace_id=workspace.pk, estimate=estimated_cost)
        job = VideoJob.objects.create(
            public_id=public_id,
            estimated_cost=estimated_cost,
            workspace=workspace,
            created_by=created_by,
            status=JobStatus.QUEUED,
            callback_ref=new_callback_ref(),
            resubmission_of=resubmission_of,
            # If the submit task is lost, the sweep re-enqueues the job after this.
            next_poll_at=now + timedelta(seconds=videogen_settings.QUEUED_STALE_SECONDS),
            **row,
        )
        JobEvent.objects.create(
            job=job, from_status="", to_status=JobStatus.QUEUED, source=source, message=message
        )
        transaction.on_commit(lambda: queue.enqueue_submit(job.pk))
    return job


def job_submit(*, job_id: int) -> Transition:
    """Claim a queued job and POST it to the provider (the submit task's body)."""
    claim = job_transition(
        job_id=job_id,
        to_status=JobStatus.SUBMITTING,
        source=EventSource.SUBMIT,
        expect_from=[JobStatus.QUEUED],
        fields={"submit_attempts": F("submit_attempts") + 1, "next_poll_at": None},
    )
    if not claim.changed:
        logger.info("videogen: job %s not submitted: %s", job_id, claim.rejected_reason)
        return claim
    job = claim.job
    try:
        payload = submission_payload(job)
    except MediaUnavailable as err:  # nothing was sent: the job can fail for good
        return job_transition(
            job_id=job.pk,
            to_status=JobStatus.FAILED,
            source=EventSource.SUBMIT,
            fields={"failure_reason": "input_unavailable", "error": str(err)[:5000]},
            message=str(err),
        )
    try:
        snapshot = get_client().create_video(payload)
    except ProviderError as err:
        if err.provider_job_id:
            # An odd answer, but it names the job the provider created: that settles it.
            accepted = VideoJobSnapshot(id=err.provider_job_id, status=VideoStatus.PENDING)
            return _accepted(job, accepted, note=f"accepted with an unreadable answer: {err}")
        outcome = submit_outcome(err)
        if outcome is SubmitOutcome.UNKNOWN:
            return _outcome_unknown(job=job, err=err)
        if outcome is SubmitOutcome.RETRY:
            return _after_transient_submit_error(job=job, err=err)
        return job_transition(
            job_id=job.pk,
            to_status=JobStatus.FAILED,
            source=EventSource.SUBMIT,
            fields={"failure_reason": err.reason, "error": err.message[:5000]},
            payload={"status_code": err.status_code, "response": err.response_text[:2000]},
            message=str(err),
        )
    # Anything else (a bug, a crash) leaves the job "submitting": the POST may have landed.
    return _accepted(job, snapshot)


def _accepted(job: VideoJob, snapshot: VideoJobSnapshot, *, note: str = "") -> Transition:
    """Store the provider's job id and first state (a 2xx always means the job exists)."""
    if snapshot.status is VideoStatus.UNKNOWN:
        snapshot = dataclasses.replace(snapshot, status=VideoStatus.PENDING)
    now = timezone.now()
    fields = {
        "provider_job_id": snapshot.id,
        "submitted_at": now,
        "last_error": note[:5000],
        "next_poll_at": now + timedelta(seconds=videogen_settings.POLL_INITIAL_DELAY_SECONDS),
    }
    return job_apply_snapshot(
        job_id=job.pk, snapshot=snapshot, source=EventSource.SUBMIT, fields=fields
    )


def _outcome_unknown(*, job: VideoJob, err: ProviderError) -> Transition:
    logger.warning(
        "videogen: job %s: submission outcome unknown (%s); never re-sent automatically",
        job.public_id,
        err,
    )
    return job_transition(
        job_id=job.pk,
        to_status=JobStatus.UNKNOWN,
        source=EventSource.SUBMIT,
        expect_from=[JobStatus.SUBMITTING],
        fields={
            "failure_reason": err.reason,
            "last_error": (
                f"Submission outcome unknown: {err}. The request may have reached the provider, "
                "so it is not sent again automatically; the provider's callback will complete "
                "it if it was created."
            )[:5000],
            # Staff are asked to decide UNKNOWN_OUTCOME_ATTENTION_SECONDS after this.
            "submitted_at": timezone.now(),
        },
        payload={"status_code": err.status_code, "response": err.response_text[:2000]},
        message=f"submission outcome unknown: {err}"[:500],
    )


def _after_transient_submit_error(*, job: VideoJob, err: ProviderTransientError) -> Transition:
    attempts = job.submit_attempts
    if attempts >= videogen_settings.SUBMIT_MAX_ATTEMPTS:
        return job_transition(
            job_id=job.pk,
            to_status=JobStatus.FAILED,
            source=EventSource.SUBMIT,
            fields={
                "failure_reason": err.reason,
                "error": f"Gave up after {attempts} submission attempts: {err}",
            },
            message=str(err),
        )
    delay = backoff_seconds(attempts - 1, retry_after=err.retry_after)
    # Back to queued: the sweep re-enqueues it once next_poll_at is due.
    return job_transition(
        job_id=job.pk,
        to_status=JobStatus.QUEUED,
        source=EventSource.SUBMIT,
        allow_retry=True,
        fields={
            "last_error": str(err)[:5000],
            "next_poll_at": timezone.now() + timedelta(seconds=delay),
        },
        payload={"status_code": err.status_code, "retry_in_seconds": round(delay, 1)},
        message=f"not created by the provider, retrying: {err}",
    )


# --- staff's decisions on a job whose outcome is unknown ------------------------------------

ABANDONED_ERROR = (
    "Abandoned by staff: the provider never confirmed this submission. If it did create the "
    "job after all, its callback still completes this job and records its cost."
)


def job_abandon(*, job_id: int, source: str = EventSource.ADMIN) -> Transition:
    """Give up on a job whose submission outcome is unknown. It stays recoverable: a callback
    carrying its reference still completes it (the provider's word wins)."""
    return job_transition(
        job_id=job_id,
        to_status=JobStatus.FAILED,
        source=source,
        expect_from=[JobStatus.UNKNOWN],
        fields={"failure_reason": "abandoned", "locally_closed": True, "error": ABANDONED_ERROR},
        message="marked abandoned by staff",
    )


@dataclasses.dataclass(frozen=True)
class Resubmission:
    original: Transition
    job: VideoJob | None  # the new job, when the original could be resubmitted


def job_resubmit(*, job_id: int, source: str = EventSource.ADMIN, created_by=None) -> Resubmission:
    """Staff's explicit resend of a job whose outcome is unknown: MAY BILL TWICE.

    The original is closed as abandoned (still recoverable by its callback, so if the
    provider did create it, its cost still lands in the ledger) and a new job with the same
    request is queued, linked to it, under the budget like any submission. One site job is
    never sent to the provider twice. Raises ``BudgetExceededError`` (nothing changed) when
    the workspace's budget blocks the new job.
    """
    new_id = uuid.uuid4()
    try:
        return _resubmit(job_id=job_id, source=source, created_by=created_by, new_id=new_id)
    except BudgetExceededError as refused:
        budget_refusal_announce(refused)  # after the rollback (nothing changed)
        raise


def _resubmit(*, job_id: int, source: str, created_by, new_id: uuid.UUID) -> Resubmission:
    with transaction.atomic():
        original = job_transition(
            job_id=job_id,
            to_status=JobStatus.FAILED,
            source=source,
            expect_from=[JobStatus.UNKNOWN],
            fields={
                "failure_reason": "resubmitted",
                "locally_closed": True,
                "error": f"Resubmitted by staff as job {new_id}. {ABANDONED_ERROR}",
            },
            message=f"resubmitted by staff as job {new_id} (may be billed twice)",
        )
        if not original.changed:
            return Resubmission(original=original, job=None)
        job = original.job
        clone = _job_store(
            workspace=job.workspace,
            request={name: getattr(job, name) for name in REQUEST_FIELDS},
            estimated_cost=job.estimated_cost,
            created_by=created_by or job.created_by,
            source=source,
            public_id=new_id,
            resubmission_of=job,
            message=f"resubmission of job {job.public_id}, whose outcome was unknown",
        )
    return Resubmission(original=original, job=clone)


def job_cancel(*, job_id: int, source: str = EventSource.API) -> Transition:
    """Cancel a job the provider does not know yet (``queued``). The provider's API has no
    cancel call, so a job already sent cannot be cancelled from here."""
    return job_transition(
        job_id=job_id,
        to_status=JobStatus.CANCELLED,
        source=source,
        expect_from=[JobStatus.QUEUED],
        fields={"failure_reason": "cancelled_before_submission"},
        message="cancelled before submission",
    )
