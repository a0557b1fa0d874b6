"""Enqueue videogen's tasks with django-q2, by dotted path (services never import tasks)."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from videogen.conf import videogen_settings

logger = logging.getLogger(__name__)

SUBMIT_TASK = "videogen.tasks.submit_job"
FETCH_OUTPUTS_TASK = "videogen.tasks.fetch_outputs"


def _enqueue(task: str, job_id: int, name: str, recovery: str) -> None:
    try:
        async_task(task, job_id, sync=videogen_settings.TASKS_SYNC, task_name=f"{name}-{job_id}")
    except Exception:
        # Never lose the request over a broker hiccup: the sweep recovers it (see recovery).
        logger.exception("videogen: could not enqueue %s for job %s (%s)", task, job_id, recovery)


def enqueue_submit(job_id: int) -> None:
    """Queue the submission of one job. Safe to call twice: the claim happens only once."""
    _enqueue(
        SUBMIT_TASK, job_id, "videogen-submit", "the job stays queued; the sweep re-enqueues it"
    )


def enqueue_fetch_outputs(job_id: int) -> None:
    """Queue the download of a completed job's outputs. Safe to repeat: stored ones are skipped."""
    _enqueue(FETCH_OUTPUTS_TASK, job_id, "videogen-outputs", "videogen_fetch_outputs recovers it")
