"""How long the pages keep watching a job: until nothing shown can change any more.

A page that shows a job still running asks the server again every ``ACTIVE_SECONDS``. A
completed job is watched until its video is stored (the fetch task runs right after
completion) and its cost has arrived (a late cost is polled for by the reconciler, up to a
day: the page then asks every ``WAITING_SECONDS``). Anything else is final: no more asking.
"""

from __future__ import annotations

from collections.abc import Iterable

from videogen.conf import videogen_settings
from videogen.models import JobStatus, OutputStatus, VideoJob, VideoOutput

ACTIVE_SECONDS = 2
WAITING_SECONDS = 10

# Outputs that may still become a playable video soon.
_COMING = frozenset({OutputStatus.PENDING, OutputStatus.FETCHING})


def job_video_coming(*, job: VideoJob, outputs: Iterable[VideoOutput]) -> bool:
    """A completed job whose video the site is still downloading (or about to)."""
    if job.status != JobStatus.COMPLETED or not videogen_settings.STORE_OUTPUTS:
        return False
    outputs = list(outputs)
    return not outputs or any(o.status in _COMING for o in outputs)


def job_watch_seconds(*, job: VideoJob, outputs: Iterable[VideoOutput]) -> int | None:
    """Seconds until the job page asks again, or ``None`` when the job is settled."""
    if not job.is_terminal:
        return ACTIVE_SECONDS
    if job_video_coming(job=job, outputs=outputs):
        return ACTIVE_SECONDS
    if job.status == JobStatus.COMPLETED and job.cost is None:
        return WAITING_SECONDS
    if any(o.status == OutputStatus.FAILED for o in outputs):  # retried by the sweep
        return WAITING_SECONDS
    return None


def jobs_watch_seconds(*, jobs: Iterable[VideoJob]) -> int | None:
    """Seconds until a list of jobs is asked for again: while any of them is still running."""
    return ACTIVE_SECONDS if any(not job.is_terminal for job in jobs) else None


def job_media_state(*, job: VideoJob, outputs: Iterable[VideoOutput]) -> str:
    """What the job page shows where the video goes: ``making`` (not finished), ``ready``
    (a stored video plays), ``coming`` (being copied to the site), ``retrying`` (a copy
    failed; the sweep retries it), ``unavailable`` (not kept on this site) or ``none`` (the
    job did not succeed)."""
    outputs = list(outputs)
    if not job.is_terminal:
        return "making"
    if job.status != JobStatus.COMPLETED:
        return "none"
    if any(o.status == OutputStatus.STORED and o.file for o in outputs):
        return "ready"
    if job_video_coming(job=job, outputs=outputs):
        return "coming"
    if any(o.status == OutputStatus.FAILED for o in outputs):
        return "retrying"
    return "unavailable"
