"""What staff do to jobs (the admin's actions), one job at a time, each saying what it did.

Every function takes job ids and returns one ``JobActionResult`` per job found: done or not,
and in plain words what happened or why nothing did. Nothing here talks to the provider
inside the caller's request: a poll or a download is enqueued for the workers
(``services.queue``), and its result lands through the lifecycle like any other.

``job_attention`` explains a job flagged ``needs_attention`` in words staff can act on, with
the remedies (the actions) that resolve it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import EventSource, JobStatus, OutputStatus, VideoJob, VideoOutput
from videogen.services import queue
from videogen.services.jobs.outputs import outputs_refetch
from videogen.services.jobs.reconcile import job_is_manually_pollable
from videogen.services.jobs.submission import job_abandon, job_cancel, job_resubmit
from videogen.services.money.budgets import BudgetExceededError

# The remedies ``job_attention`` may name (the admin maps each to its action).
POLL = "poll"
REFETCH_OUTPUTS = "refetch_outputs"
ABANDON = "abandon"
RESUBMIT = "resubmit"
CLEAR_FLAG = "clear_flag"


@dataclass(frozen=True)
class JobActionResult:
    job_id: int
    public_id: uuid.UUID
    done: bool
    note: str  # what was done, or why nothing was
    new_job: VideoJob | None = None  # a resubmission's new job

    @property
    def short_id(self) -> str:
        return str(self.public_id)[:8]


def _jobs(job_ids: Iterable[int]) -> list[VideoJob]:
    return list(
        VideoJob.objects.filter(pk__in=list(job_ids))
        .select_related("usage_entry")
        .order_by("-created_at", "-pk")
    )


def _not_pollable_because(job: VideoJob) -> str:
    status = job.status
    if status == JobStatus.QUEUED:
        return "not sent to the provider yet: nothing to poll"
    if status == JobStatus.SUBMITTING:
        return "being sent to the provider right now"
    if status == JobStatus.UNKNOWN:
        return (
            "its submission's answer was lost, so there is no provider id to poll "
            "(mark it abandoned or resubmit it)"
        )
    if not job.provider_job_id:
        return f"{job.get_status_display()} before the provider knew it: nothing to poll"
    if status == JobStatus.COMPLETED:
        return "completed and priced: nothing left to ask the provider"
    return f"{job.get_status_display()} by the provider: its final answer is in"


def jobs_poll_enqueue(*, job_ids: Iterable[int]) -> list[JobActionResult]:
    """*Poll now*: enqueue a poll of each job the provider knows that is in flight,
    completed without a cost, or given up on by the site (whatever its age)."""
    results = []
    for job in _jobs(job_ids):
        if not job_is_manually_pollable(job):
            results.append(
                JobActionResult(job.pk, job.public_id, False, _not_pollable_because(job))
            )
        elif queue.enqueue_poll(job.pk) is False:
            note = "the task queue refused the poll; the sweep polls it when it is due"
            results.append(JobActionResult(job.pk, job.public_id, False, note))
        else:
            note = "poll queued" + (" (its cost is missing)" if job.is_terminal else "")
            results.append(JobActionResult(job.pk, job.public_id, True, note))
    return results


def jobs_outputs_refetch(*, job_ids: Iterable[int]) -> list[JobActionResult]:
    """*Re-fetch outputs*: download again the videos of completed jobs that are not stored
    (never fetched, failed, given up on, or deleted by retention), in a task."""
    results = []
    for job in _jobs(job_ids):
        if not videogen_settings.STORE_OUTPUTS:
            note = "this site does not keep videos (STORE_OUTPUTS is off)"
            results.append(JobActionResult(job.pk, job.public_id, False, note))
        elif job.status != JobStatus.COMPLETED or not job.provider_job_id:
            note = f"{job.get_status_display()}: only completed jobs have videos to fetch"
            results.append(JobActionResult(job.pk, job.public_id, False, note))
        else:
            missing = outputs_refetch(job_id=job.pk)
            if missing == 0:
                note = "every video is already stored (or being fetched right now)"
                results.append(JobActionResult(job.pk, job.public_id, False, note))
            else:
                note = f"download of {missing} video{'s' if missing > 1 else ''} queued"
                results.append(JobActionResult(job.pk, job.public_id, True, note))
    return results


def jobs_cancel(*, job_ids: Iterable[int]) -> list[JobActionResult]:
    """*Cancel*: jobs the provider does not know yet (queued)."""
    results = []
    for job in _jobs(job_ids):
        if job_cancel(job_id=job.pk, source=EventSource.ADMIN).changed:
            results.append(JobActionResult(job.pk, job.public_id, True, "cancelled"))
        else:
            note = (
                "already sent to the provider, whose API cannot cancel a job"
                if job.status != JobStatus.QUEUED
                else "its submission started meanwhile: too late to cancel"
            )
            results.append(JobActionResult(job.pk, job.public_id, False, note))
    return results


def jobs_abandon(*, job_ids: Iterable[int]) -> list[JobActionResult]:
    """*Mark abandoned*: jobs whose submission outcome is unknown."""
    results = []
    for job in _jobs(job_ids):
        if job_abandon(job_id=job.pk, source=EventSource.ADMIN).changed:
            note = "marked abandoned (a late callback from the provider still completes it)"
            results.append(JobActionResult(job.pk, job.public_id, True, note))
        else:
            note = f"{job.get_status_display()}: only a job whose outcome is unknown"
            results.append(JobActionResult(job.pk, job.public_id, False, note))
    return results


def jobs_resubmit(*, job_ids: Iterable[int], created_by=None) -> list[JobActionResult]:
    """*Resubmit*: each job whose outcome is unknown is closed and sent again as a new job,
    which MAY BE BILLED TWICE (see ``job_resubmit``)."""
    results = []
    for job in _jobs(job_ids):
        try:
            resubmission = job_resubmit(
                job_id=job.pk, source=EventSource.ADMIN, created_by=created_by
            )
        except BudgetExceededError as err:
            results.append(JobActionResult(job.pk, job.public_id, False, str(err)))
            continue
        if resubmission.job is None:
            note = f"{job.get_status_display()}: only a job whose outcome is unknown"
            results.append(JobActionResult(job.pk, job.public_id, False, note))
        else:
            new = resubmission.job
            note = f"resubmitted as {new.public_id}"
            results.append(JobActionResult(job.pk, job.public_id, True, note, new_job=new))
    return results


def jobs_clear_attention(*, job_ids: Iterable[int]) -> list[JobActionResult]:
    """*Clear the flag*: staff looked at these jobs (the flag is not a status: no event)."""
    results = []
    for job in _jobs(job_ids):
        cleared = VideoJob.objects.filter(pk=job.pk, needs_attention=True).update(
            needs_attention=False, updated_at=timezone.now()
        )
        note = "attention flag cleared" if cleared else "was not flagged"
        results.append(JobActionResult(job.pk, job.public_id, bool(cleared), note))
    return results


# --- why a job needs attention --------------------------------------------------------------


@dataclass(frozen=True)
class Attention:
    headline: str
    explanation: str
    remedies: tuple[str, ...]
    detail: str = ""  # the machine's own message, for the curious


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "an unknown time"


def job_attention(job: VideoJob, *, outputs: Iterable[VideoOutput] = ()) -> Attention | None:
    """Why ``job`` needs staff, in plain words, and what resolves it; ``None`` when it does
    not. ``outputs``: the job's output rows when the caller has them."""
    stuck = [o for o in outputs if o.status in (OutputStatus.GAVE_UP, OutputStatus.FAILED)]
    if not job.needs_attention:
        if job.status == JobStatus.COMPLETED and stuck and videogen_settings.STORE_OUTPUTS:
            return _outputs_not_stored(stuck)
        return None
    if job.status == JobStatus.UNKNOWN:
        return Attention(
            headline="Submission outcome unknown",
            explanation=(
                f"This job was sent to the provider at {_when(job.submitted_at)}, but the "
                "answer never came back, so the site does not know whether the provider "
                "created the video. If it did, it is generating and billing it, and its "
                "callback will complete this job here with its cost; no callback has come "
                "yet. If you believe the provider never got it, mark it abandoned. To get "
                "the video anyway, resubmit it as a new job: if the provider did create the "
                "first one, you pay twice."
            ),
            remedies=(ABANDON, RESUBMIT),
            detail=job.last_error,
        )
    if job.status == JobStatus.COMPLETED and job.cost is None:
        return Attention(
            headline="Cost never reported",
            explanation=(
                f"The provider completed this video at {_when(job.finished_at)} but has not "
                "said what it cost, and the site has stopped asking. Poll now asks once "
                "more. To compare the ledger with the provider's own records, run "
                "manage.py videogen_audit_ledger --against-provider."
            ),
            remedies=(POLL,),
            detail=job.last_error,
        )
    if job.status == JobStatus.COMPLETED and stuck and videogen_settings.STORE_OUTPUTS:
        return _outputs_not_stored(stuck)
    return Attention(
        headline="Flagged for attention",
        explanation=(
            "This job is flagged for staff, and nothing about it is waiting for the provider "
            "any more. Once you have looked at it, untick Needs attention and save."
        ),
        remedies=(CLEAR_FLAG,),
        detail=job.last_error,
    )


def _outputs_not_stored(stuck: list[VideoOutput]) -> Attention:
    gave_up = any(o.status == OutputStatus.GAVE_UP for o in stuck)
    return Attention(
        headline="Video not stored",
        explanation=(
            "The video could not be downloaded from the provider"
            + (
                " and the site has stopped trying. "
                if gave_up
                else "; the site retries on its own. "
            )
            + "Re-fetch outputs tries again now (the provider keeps videos only for a while)."
        ),
        remedies=(REFETCH_OUTPUTS,),
        detail=stuck[0].last_error,
    )
