"""Keeping the videos: stream a completed job's outputs into Django storage.

The provider keeps outputs only for a while. On completion a task fetches every output
(``GET /videos/{id}/content?index=N``) in chunks into a temporary file on local disk,
hashing as it goes, so memory stays bounded whatever the size. Only a download that is
complete (byte count equals ``Content-Length`` when given) and looks like the media it
claims (an MP4 starts with an ``ftyp`` box) is saved to storage, in one ``storage.save``
(S3 through django-storages streams the file). A failed or interrupted download is
discarded and retried from the start with backoff by the sweep; a stored output is never
fetched again, so running the task twice never duplicates a file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from datetime import timedelta

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import JobStatus, OutputStatus, VideoJob, VideoOutput
from videogen.provider.client import VideoContent, get_client
from videogen.provider.errors import ProviderError, ProviderNotFound
from videogen.services import queue
from videogen.services.submission import backoff_seconds

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


class OutputRejected(Exception):
    """The bytes received are not a complete, plausible video."""


@dataclass(frozen=True)
class FetchReport:
    stored: int = 0
    skipped: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.stored} stored, {self.skipped} already stored, {self.failed} failed"


def _output_count(job: VideoJob) -> int:
    return max(1, len(job.unsigned_urls or []))


def outputs_ensure(*, job: VideoJob) -> list[VideoOutput]:
    """The job's output rows, one per ``unsigned_urls`` entry (created once)."""
    for index in range(_output_count(job)):
        try:
            with transaction.atomic():
                VideoOutput.objects.get_or_create(job=job, index=index)
        except IntegrityError:
            pass  # created by a concurrent task
    return list(job.outputs.order_by("index"))


def outputs_fetch(*, job_id: int) -> FetchReport:
    """Fetch every output of a completed job that is not stored yet."""
    job = VideoJob.objects.select_related("workspace").get(pk=job_id)
    if job.status != JobStatus.COMPLETED or not job.provider_job_id:
        return FetchReport()
    stored = skipped = failed = 0
    for output in outputs_ensure(job=job):
        if output.status in (OutputStatus.STORED, OutputStatus.DELETED, OutputStatus.GAVE_UP):
            skipped += 1
            continue
        if _fetch_one(job=job, output=output):
            stored += 1
        else:
            failed += 1
    return FetchReport(stored=stored, skipped=skipped, failed=failed)


def _claim(output: VideoOutput) -> bool:
    """One fetcher per output at a time: bump attempts only if nobody else just did."""
    now = timezone.now()
    lease = now + timedelta(seconds=videogen_settings.READ_TIMEOUT * 4 + 60)
    return bool(
        VideoOutput.objects.filter(pk=output.pk, attempts=output.attempts)
        .exclude(status=OutputStatus.STORED)
        .update(attempts=output.attempts + 1, next_attempt_at=lease)
    )


def _fetch_one(*, job: VideoJob, output: VideoOutput) -> bool:
    if not _claim(output):
        return False
    output.attempts += 1
    try:
        with tempfile.TemporaryFile() as spool:
            size, digest, content_type = _download(job, output.index, spool)
            spool.seek(0)
            name = f"output-{output.index}{_extension(content_type)}"
            output.file.save(name, File(spool), save=False)
    except (ProviderError, OutputRejected, OSError) as err:
        _record_failure(output, err)
        return False
    VideoOutput.objects.filter(pk=output.pk).update(
        status=OutputStatus.STORED,
        file=output.file.name,
        size_bytes=size,
        content_type=content_type,
        sha256=digest,
        last_error="",
        next_attempt_at=None,
        stored_at=timezone.now(),
    )
    logger.info(
        "videogen: stored output %s of job %s (%s bytes)", output.index, job.public_id, size
    )
    return True


def _download(job: VideoJob, index: int, spool) -> tuple[int, str, str]:
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
    VideoOutput.objects.filter(pk=output.pk).update(
        status=OutputStatus.GAVE_UP if give_up else OutputStatus.FAILED,
        last_error=str(err)[:2000],
        next_attempt_at=None if give_up else timezone.now() + timedelta(seconds=max(delay, 5)),
    )
    logger.warning("videogen: output %s of job %s not stored: %s", output.index, output.job_id, err)


def outputs_requeue_due(*, now) -> int:
    """The sweep's part: re-enqueue failed fetches whose backoff is over."""
    if not videogen_settings.STORE_OUTPUTS:
        return 0
    due = list(
        VideoOutput.objects.filter(status=OutputStatus.FAILED, next_attempt_at__lte=now)
        .values_list("job_id", flat=True)
        .distinct()[: videogen_settings.RECONCILE_BATCH_SIZE]
    )
    for job_id in due:
        queue.enqueue_fetch_outputs(job_id)
    return len(due)


def outputs_refetch_missing(*, workspace_ids=None) -> int:
    """Enqueue a fetch for completed jobs whose outputs are not all stored (the command)."""
    jobs = VideoJob.objects.filter(status=JobStatus.COMPLETED, provider_job_id__isnull=False)
    if workspace_ids is not None:
        jobs = jobs.filter(workspace_id__in=list(workspace_ids))
    missing = jobs.exclude(outputs__status=OutputStatus.STORED).values_list("pk", flat=True)
    count = 0
    for job_id in missing:
        VideoOutput.objects.filter(job_id=job_id, status=OutputStatus.GAVE_UP).update(
            status=OutputStatus.FAILED, attempts=0
        )
        queue.enqueue_fetch_outputs(job_id)
        count += 1
    return count


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
