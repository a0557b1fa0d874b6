"""Enqueue videogen's tasks with django-q2, by dotted path (services never import tasks)."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from videogen.conf import videogen_settings

logger = logging.getLogger(__name__)

SUBMIT_TASK = "videogen.tasks.submit_job"
FETCH_OUTPUTS_TASK = "videogen.tasks.fetch_outputs"


def enqueue_submit(job_id: int) -> None:
    """Queue the submission of one job. Safe to call twice: the claim happens only once."""
    try:
        async_task(
            SUBMIT_TASK,
            job_id,
            sync=videogen_settings.TASKS_SYNC,
            task_name=f"videogen-submit-{job_id}",
        )
    except Exception:
        # The job stays queued and the sweep re-enqueues it; never lose the request over this.
        logger.exception("videogen: could not enqueue submission of job %s", job_id)


def enqueue_fetch_outputs(job_id: int) -> None:
    """Queue the download of a completed job's outputs. Safe to repeat: stored ones are skipped."""
    try:
        async_task(
            FETCH_OUTPUTS_TASK,
            job_id,
            sync=videogen_settings.TASKS_SYNC,
            task_name=f"videogen-outputs-{job_id}",
        )
    except Exception:
        # The sweep's refetch of missing outputs (videogen_fetch_outputs) recovers it.
        logger.exception("videogen: could not enqueue the output fetch of job %s", job_id)
