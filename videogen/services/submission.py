"""Creating jobs and sending them to the provider, at most once.

A job is stored ``queued`` and its submission enqueued after commit. The submitting worker
claims it (compare-and-set ``queued → submitting``), POSTs, and stores the provider id in
the transition that follows. If the process dies between the POST and that commit the job
stays ``submitting``; the sweep flags it for staff and nothing re-POSTs it until a person
asks (``job_resubmit``), because a blind retry could generate and bill the video twice.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import EventSource, JobEvent, JobStatus, VideoJob, VideoModel, Workspace
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError, ProviderTransientError
from videogen.services import queue
from videogen.services.budgets import (
    BudgetExceededError,
    budget_check_locked,
    budget_refusal_announce,
)
from videogen.services.estimates import estimate_cost
from videogen.services.lifecycle import Transition, job_apply_snapshot, job_transition
from videogen.services.media import MediaUnavailable, inline_media_stored, job_request_body
from videogen.services.validation import validate_job_request

logger = logging.getLogger(__name__)


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with ±20 % jitter, capped, never shorter than ``Retry-After``."""
    base = float(videogen_settings.POLL_INITIAL_DELAY_SECONDS)
    ceiling = float(videogen_settings.POLL_MAX_DELAY_SECONDS)
    delay = min(ceiling, base * (2 ** max(0, min(attempt, 16))))
    delay *= random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def job_create(
    *,
    workspace: Workspace,
    data: Mapping[str, Any],
    created_by=None,
    source: str = EventSource.API,
) -> VideoJob:
    """Validate ``data``, store the job ``queued`` and enqueue its submission on commit.

    Raises ``django.core.exceptions.ValidationError`` (a dict of field errors) when the
    request does not fit the seed schema or the model's capabilities, and
    ``BudgetExceededError`` when the workspace's budget blocks it. ``data:`` media are
    stored as files and referenced from the row (``services.media``).
    """
    cleaned = validate_job_request(data)
    if not cleaned.get("callback_url") and videogen_settings.CALLBACK_URL:
        cleaned["callback_url"] = videogen_settings.CALLBACK_URL
    estimate = estimate_cost(
        model=VideoModel.objects.filter(model_id=cleaned["model"]).first(), request=cleaned
    )
    now = timezone.now()
    public_id = uuid.uuid4()
    try:
        with (
            inline_media_stored(request=cleaned, workspace=workspace, public_id=public_id) as row,
            transaction.atomic(),
        ):
            # The workspace stays locked until the job is stored: concurrent submitters wait.
            budget_check_locked(workspace_id=workspace.pk, estimate=estimate.cost)
            job = VideoJob.objects.create(
                public_id=public_id,
                estimated_cost=estimate.cost,
                workspace=workspace,
                created_by=created_by,
                status=JobStatus.QUEUED,
                # If the submit task is lost, the sweep re-enqueues the job after this.
                next_poll_at=now + timedelta(seconds=videogen_settings.QUEUED_STALE_SECONDS),
                **row,
            )
            JobEvent.objects.create(
                job=job, from_status="", to_status=JobStatus.QUEUED, source=source
            )
            transaction.on_commit(lambda: queue.enqueue_submit(job.pk))
    except BudgetExceededError as refused:
        # After the rollback, outside the workspace lock (see budget_refusal_announce).
        budget_refusal_announce(refused)
        raise
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
        payload = job_request_body(job=job)
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
    except ProviderTransientError as err:
        return _after_transient_submit_error(job=job, err=err)
    except ProviderError as err:
        return job_transition(
            job_id=job.pk,
            to_status=JobStatus.FAILED,
            source=EventSource.SUBMIT,
            fields={"failure_reason": err.reason, "error": err.message[:5000]},
            payload={"status_code": err.status_code, "response": err.response_text[:2000]},
            message=str(err),
        )
    # Anything else (a bug, a crash) leaves the job "submitting": the POST may have landed.
    now = timezone.now()
    return job_apply_snapshot(
        job_id=job.pk,
        snapshot=snapshot,
        source=EventSource.SUBMIT,
        fields={
            "provider_job_id": snapshot.id,
            "submitted_at": now,
            "last_error": "",
            "next_poll_at": now + timedelta(seconds=videogen_settings.POLL_INITIAL_DELAY_SECONDS),
        },
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
        message=f"transient submission error, retrying: {err}",
    )


def job_resubmit(*, job_id: int, source: str = EventSource.ADMIN) -> Transition:
    """Staff's explicit resend of a job stuck in ``submitting`` (outcome unknown).

    The person accepts the risk of a duplicate generation; the attempt counter restarts.
    """
    result = job_transition(
        job_id=job_id,
        to_status=JobStatus.QUEUED,
        source=source,
        allow_retry=True,
        expect_from=[JobStatus.SUBMITTING],
        fields={
            "needs_attention": False,
            "submit_attempts": 0,
            "next_poll_at": timezone.now()
            + timedelta(seconds=videogen_settings.QUEUED_STALE_SECONDS),
        },
        message="resubmitted by staff",
    )
    if result.changed:
        transaction.on_commit(lambda: queue.enqueue_submit(job_id))
    return result


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
