"""Keeping the videos: stream a completed job's outputs into Django storage.

The provider keeps outputs only for a while. On completion a task fetches every output
(``GET /videos/{id}/content?index=N``) in chunks into a temporary file on local disk,
hashing as it goes, so memory stays bounded whatever the size. Only a download that is
complete (byte count equals ``Content-Length`` when given) and looks like the media it
claims (an MP4 starts with an ``ftyp`` box) is saved to storage, in one ``storage.save``
(S3 through django-storages streams the file). A failed or interrupted download is
discarded and retried from the start with backoff by the sweep; a stored output is never
fetched again, so running the task twice never duplicates a file.

One fetcher at a time per output: a fetcher *claims* an output (``fetching``) until a time by
which its task has surely ended, whether it finished, failed, was killed or was timed out by
django-q2 (the task's own timeout is ``OUTPUT_FETCH_TIMEOUT_SECONDS`` plus the read timeout).
The sweep (``outputs_requeue_due``) re-enqueues every output that is due: failed ones whose
backoff is over, claims that expired (their fetcher died), outputs nobody started, and
completed jobs whose fetch task never ran at all.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files import File
from django.db import DatabaseError
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import JobStatus, OutputStatus, VideoJob, VideoOutput
from videogen.provider.client import VideoContent, get_client
from videogen.provider.errors import ProviderError, ProviderNotFound
from videogen.services import queue
from videogen.services.retry import backoff_seconds

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Outputs a fetcher may still download (the others are done, or given up on).
FETCHABLE = (OutputStatus.PENDING, OutputStatus.FAILED, OutputStatus.FETCHING)
# A claim outlives its task by this much: django-q2 kills the task before the claim expires.
CLAIM_MARGIN_SECONDS = 50
# How far back the sweep looks for completed jobs whose fetch task never ran; older ones are
# left to ``videogen_fetch_outputs`` (the provider keeps outputs only for a while anyway).
MISSING_OUTPUTS_LOOKBACK = timedelta(days=2)
GAVE_UP_AFTER_TIMEOUTS = (
    "the fetcher stopped before finishing (killed, or timed out after "
    "OUTPUT_FETCH_TIMEOUT_SECONDS); gave up after %s attempts"
)


class OutputRejected(Exception):
    """The bytes received are not a complete, plausible video."""


@dataclass(frozen=True)
class FetchReport:
    stored: int = 0
    skipped: int = 0
    failed: int = 0
    busy: int = 0

    def __str__(self) -> str:
        text = f"{self.stored} stored, {self.skipped} already stored, {self.failed} failed"
        return text + (f", {self.busy} being fetched elsewhere" if self.busy else "")


def _output_count(job: VideoJob) -> int:
    return max(1, len(job.unsigned_urls or []))


def _unclaimed_grace() -> timedelta:
    # An output nobody claims within this is due for the sweep (its task was lost).
    return timedelta(seconds=videogen_settings.QUEUED_STALE_SECONDS)


def outputs_ensure(*, job: VideoJob) -> list[VideoOutput]:
    """The job's output rows, one per ``unsigned_urls`` entry (created once, in one statement).

    New rows are due for the sweep after ``QUEUED_STALE_SECONDS``: if the task that should
    fetch them dies before it claims them, the sweep enqueues another.
    """
    due = timezone.now() + _unclaimed_grace()
    VideoOutput.objects.bulk_create(
        [VideoOutput(job=job, index=i, next_attempt_at=due) for i in range(_output_count(job))],
        ignore_conflicts=True,  # created by a concurrent task
    )
    return list(job.outputs.order_by("index"))


def outputs_fetch(*, job_id: int) -> FetchReport:
    """Fetch every output of a completed job that is not stored yet.

    The whole call gets ``OUTPUT_FETCH_TIMEOUT_SECONDS``; an output it could not finish in
    that time is recorded as failed and retried by the sweep (in a new task, with a new budget).
    """
    started = time.monotonic()
    deadline = started + float(videogen_settings.OUTPUT_FETCH_TIMEOUT_SECONDS)
    # Every claim of this call expires only after the call has surely ended.
    claim_until = timezone.now() + timedelta(
        seconds=queue.fetch_task_timeout() + CLAIM_MARGIN_SECONDS
    )
    job = VideoJob.objects.select_related("workspace").get(pk=job_id)
    if job.status != JobStatus.COMPLETED or not job.provider_job_id:
        return FetchReport()
    stored = skipped = failed = busy = 0
    for output in outputs_ensure(job=job):
        if output.status not in FETCHABLE:
            skipped += 1
            continue
        claimed = _claim(output, until=claim_until)
        if claimed is None:
            busy += 1
        elif _fetch_one(job=job, output=claimed, deadline=deadline):
            stored += 1
        else:
            failed += 1
    return FetchReport(stored=stored, skipped=skipped, failed=failed, busy=busy)


def _claim(output: VideoOutput, *, until: datetime) -> VideoOutput | None:
    """Claim the output for this fetcher until ``until``; ``None`` if another holds it.

    One conditional UPDATE, so of two fetchers only one wins, on any database. A claim
    whose time is over belongs to a fetcher that died: it may be taken.
    """
    now = timezone.now()
    claimable = Q(status__in=[OutputStatus.PENDING, OutputStatus.FAILED]) | Q(
        status=OutputStatus.FETCHING, next_attempt_at__lt=now
    )
    won = VideoOutput.objects.filter(claimable, pk=output.pk).update(
        status=OutputStatus.FETCHING, attempts=F("attempts") + 1, next_attempt_at=until
    )
    if not won:
        return None
    output.refresh_from_db(fields=["status", "attempts", "next_attempt_at"])
    return output


def _ours(output: VideoOutput):
    """The output's row while this fetcher's claim is still the current one."""
    return VideoOutput.objects.filter(
        pk=output.pk, status=OutputStatus.FETCHING, attempts=output.attempts
    )


def _fetch_one(*, job: VideoJob, output: VideoOutput, deadline: float) -> bool:
    try:
        with tempfile.TemporaryFile() as spool:
            size, digest, content_type = _download(job, output.index, spool, deadline)
            spool.seek(0)
            name = f"output-{output.index}{_extension(content_type)}"
            output.file.save(name, File(spool), save=False)
    except (ProviderError, OutputRejected, OSError) as err:
        _record_failure(output, err)
        return False
    try:
        kept = _ours(output).update(
            status=OutputStatus.STORED,
            file=output.file.name,
            size_bytes=size,
            content_type=content_type,
            sha256=digest,
            last_error="",
            next_attempt_at=None,
            stored_at=timezone.now(),
        )
    except DatabaseError:
        # Not recorded: drop the file; the claim expires and the sweep fetches it again.
        output.file.delete(save=False)
        raise
    if not kept:
        # Our claim expired and another fetcher took the output over: its copy wins.
        output.file.delete(save=False)
        logger.warning(
            "videogen: output %s of job %s was taken over by another fetcher; copy dropped",
            output.index,
            job.public_id,
        )
        return False
    logger.info(
        "videogen: stored output %s of job %s (%s bytes)", output.index, job.public_id, size
    )
    return True


def _download(job: VideoJob, index: int, spool, deadline: float) -> tuple[int, str, str]:
    sha256 = hashlib.sha256()
    size = 0
    head = b""
    with get_client().iter_content(
        job.provider_job_id, index=index, chunk_size=CHUNK_BYTES
    ) as content:
        content_type = (content.content_type or "application/octet-stream").split(";")[0].strip()
        for chunk in content.iter_chunks():
            if len(head) < 12:
                head += chunk[: 12 - len(head)]
            sha256.update(chunk)
            spool.write(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise OutputRejected(
                    f"not finished within OUTPUT_FETCH_TIMEOUT_SECONDS="
                    f"{videogen_settings.OUTPUT_FETCH_TIMEOUT_SECONDS} ({size} bytes received)"
                )
        expected = content.content_length
    if expected is not None and size != expected:
        raise OutputRejected(f"truncated: received {size} of {expected} bytes")
    if size == 0:
        raise OutputRejected("empty response")
    if content_type == "video/mp4" and head[4:8] != b"ftyp":
        raise OutputRejected("not an MP4 (no ftyp box at the start)")
    return size, sha256.hexdigest(), content_type


def _extension(content_type: str) -> str:
    return {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}.get(
        content_type, ".bin"
    )


def _record_failure(output: VideoOutput, err: Exception) -> None:
    give_up = output.attempts >= videogen_settings.OUTPUT_MAX_ATTEMPTS or isinstance(
        err, ProviderNotFound
    )
    delay = backoff_seconds(output.attempts, retry_after=getattr(err, "retry_after", None))
    _ours(output).update(
        status=OutputStatus.GAVE_UP if give_up else OutputStatus.FAILED,
        last_error=str(err)[:2000],
        next_attempt_at=None if give_up else timezone.now() + timedelta(seconds=max(delay, 5)),
    )
    logger.warning("videogen: output %s of job %s not stored: %s", output.index, output.job_id, err)


def outputs_requeue_due(*, now: datetime) -> int:
    """The sweep's part: enqueue a fetch for every job with an output that is due.

    Due: a failed fetch whose backoff is over, a claim whose fetcher died (killed, timed
    out: the claim expired), an output nobody claimed, and a job completed a while ago whose
    fetch task never ran (no output rows). Each output is taken by one sweep only (its due
    time moves forward in a conditional UPDATE), so racing sweeps enqueue it once.
    """
    if not videogen_settings.STORE_OUTPUTS:
        return 0
    batch = videogen_settings.RECONCILE_BATCH_SIZE
    later = now + _unclaimed_grace()
    jobs: list[int] = []
    due = list(
        VideoOutput.objects.filter(status__in=FETCHABLE, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "job_id", "status", "attempts")[:batch]
    )
    for pk, job_id, status, attempts in due:
        row = VideoOutput.objects.filter(pk=pk, status=status, next_attempt_at__lte=now)
        if status != OutputStatus.FETCHING:
            taken = row.update(next_attempt_at=later)
        elif attempts >= videogen_settings.OUTPUT_MAX_ATTEMPTS:
            row.update(
                status=OutputStatus.GAVE_UP,
                next_attempt_at=None,
                last_error=GAVE_UP_AFTER_TIMEOUTS % attempts,
            )
            continue
        else:
            taken = row.update(
                status=OutputStatus.FAILED,
                next_attempt_at=later,
                last_error="the fetcher stopped before finishing (killed, or timed out); retrying",
            )
        if taken and job_id not in jobs:
            jobs.append(job_id)
    for job in _completed_without_outputs(now=now)[:batch]:
        outputs_ensure(job=job)  # rows due later: the next sweeps do not enqueue it again
        jobs.append(job.pk)
    for job_id in jobs:
        queue.enqueue_fetch_outputs(job_id)
    return len(jobs)


def _completed_without_outputs(*, now: datetime):
    """Jobs completed recently (but not just now) whose fetch task never created a row."""
    return (
        VideoJob.objects.filter(
            status=JobStatus.COMPLETED,
            provider_job_id__isnull=False,
            finished_at__gte=now - MISSING_OUTPUTS_LOOKBACK,
            finished_at__lte=now - _unclaimed_grace(),
        )
        .filter(~Exists(VideoOutput.objects.filter(job=OuterRef("pk"))))
        .order_by("finished_at")
    )


def jobs_with_missing_outputs(*, workspace_ids=None):
    """Completed jobs with at least one output not stored (not fetched, failed, given up,
    or never even listed), whatever happened to their other outputs."""
    not_stored = VideoOutput.objects.filter(
        job=OuterRef("pk"),
        status__in=[*FETCHABLE, OutputStatus.GAVE_UP],
    )
    jobs = VideoJob.objects.filter(
        status=JobStatus.COMPLETED, provider_job_id__isnull=False
    ).filter(Exists(not_stored) | ~Exists(VideoOutput.objects.filter(job=OuterRef("pk"))))
    if workspace_ids is not None:
        jobs = jobs.filter(workspace_id__in=list(workspace_ids))
    return jobs.order_by("pk")


def _retry_given_up(job_id: int) -> None:
    VideoOutput.objects.filter(job_id=job_id, status=OutputStatus.GAVE_UP).update(
        status=OutputStatus.FAILED, attempts=0
    )


def outputs_refetch_missing(*, workspace_ids=None) -> int:
    """Enqueue a fetch for completed jobs whose outputs are not all stored (the command);
    outputs that had given up get their attempts back."""
    count = 0
    for job_id in jobs_with_missing_outputs(workspace_ids=workspace_ids).values_list(
        "pk", flat=True
    ):
        _retry_given_up(job_id)
        queue.enqueue_fetch_outputs(job_id)
        count += 1
    return count


def outputs_fetch_missing(*, workspace_ids=None) -> FetchReport:
    """Download here and now what ``outputs_refetch_missing`` would enqueue (``--now``)."""
    total = FetchReport()
    for job_id in jobs_with_missing_outputs(workspace_ids=workspace_ids).values_list(
        "pk", flat=True
    ):
        _retry_given_up(job_id)
        report = outputs_fetch(job_id=job_id)
        total = FetchReport(
            stored=total.stored + report.stored,
            skipped=total.skipped + report.skipped,
            failed=total.failed + report.failed,
            busy=total.busy + report.busy,
        )
    return total


def outputs_prune(*, older_than_days: int, dry_run: bool = False) -> int:
    """Delete stored files older than the retention; rows stay, marked deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = VideoOutput.objects.filter(status=OutputStatus.STORED, stored_at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted = 0
    for output in old.iterator():
        if output.file:
            output.file.delete(save=False)
        VideoOutput.objects.filter(pk=output.pk).update(status=OutputStatus.DELETED, file="")
        deleted += 1
    return deleted


def job_content_open(*, job: VideoJob, index: int) -> VideoContent:
    """Open the provider's stream of output ``index`` (a read; nothing is stored).

    Use the result as a context manager (or ``close()`` it): it holds a pooled connection.
    Raises the ``ProviderError`` tree (``ProviderNotFound`` when the provider has no such
    output, a ``ProviderTransientError`` when it fails).
    """
    return get_client().iter_content(job.provider_job_id, index=index)
