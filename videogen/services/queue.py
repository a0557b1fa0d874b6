"""Enqueue videogen's tasks with django-q2, by dotted path (services never import tasks)."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from videogen.conf import videogen_settings

logger = logging.getLogger(__name__)

SUBMIT_TASK = "videogen.tasks.submit_job"
FETCH_OUTPUTS_TASK = "videogen.tasks.fetch_outputs"
POLL_TASK = "videogen.tasks.poll_job"
SYNC_MODELS_TASK = "videogen.tasks.sync_models"


def _enqueue(task: str, job_id: int, name: str, recovery: str, **options) -> bool:
    """``True`` once the broker has the task (or it ran, with ``TASKS_SYNC``)."""
    try:
        async_task(
            task,
            job_id,
            sync=videogen_settings.TASKS_SYNC,
            task_name=f"{name}-{job_id}",
            **options,
        )
    except Exception:
        # Never lose the request over a broker hiccup: the sweep recovers it (see recovery).
        logger.exception("videogen: could not enqueue %s for job %s (%s)", task, job_id, recovery)
        return False
    return True


def enqueue_submit(job_id: int) -> None:
    """Queue the submission of one job. Safe to call twice: the claim happens only once."""
    _enqueue(
        SUBMIT_TASK, job_id, "videogen-submit", "the job stays queued; the sweep re-enqueues it"
    )


def fetch_task_timeout() -> int:
    """Seconds a fetch task may run: its download budget, plus one read timeout (a read in
    progress when the budget ends), plus a little. django-q2 kills the task after this."""
    return int(
        float(videogen_settings.OUTPUT_FETCH_TIMEOUT_SECONDS)
        + float(videogen_settings.READ_TIMEOUT)
        + 10
    )


def enqueue_fetch_outputs(job_id: int) -> None:
    """Queue the download of a completed job's outputs. Safe to repeat: stored ones are skipped.

    The task carries its own django-q2 timeout, sized for large files
    (``OUTPUT_FETCH_TIMEOUT_SECONDS`` + ``READ_TIMEOUT``), not the cluster's default.
    """
    _enqueue(
        FETCH_OUTPUTS_TASK,
        job_id,
        "videogen-outputs",
        "the sweep enqueues it again",
        timeout=fetch_task_timeout(),
    )


def enqueue_poll(job_id: int) -> bool:
    """Queue one poll of a job (staff's *Poll now*). Safe to repeat: the poll leases the job,
    so two tasks for one job poll it once. ``False`` when the broker refused it."""
    return _enqueue(POLL_TASK, job_id, "videogen-poll", "the sweep polls it when it is due")


def enqueue_catalog_sync() -> bool:
    """Queue a sync of the model catalog (staff's *Sync now*). ``False`` when the broker
    refused it (the schedule still syncs it)."""
    try:
        async_task(SYNC_MODELS_TASK, sync=videogen_settings.TASKS_SYNC, task_name="videogen-sync")
    except Exception:
        logger.exception("videogen: could not enqueue the catalog sync (the schedule runs it)")
        return False
    return True
