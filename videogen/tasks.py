"""django-q2 task functions: thin shells around services, referenced by dotted path."""

from __future__ import annotations

from videogen.conf import videogen_settings
from videogen.services.catalog import catalog_sync
from videogen.services.jobs.outputs import outputs_fetch
from videogen.services.jobs.reconcile import reconcile_window
from videogen.services.jobs.submission import job_submit
from videogen.services.webhooks.retention import webhook_deliveries_prune


def submit_job(job_id: int) -> str:
    return str(job_submit(job_id=job_id).to_status)


def reconcile() -> str:
    reports = reconcile_window(
        seconds=videogen_settings.RECONCILE_WINDOW_SECONDS,
        idle_seconds=videogen_settings.RECONCILE_IDLE_SECONDS,
    )
    return f"{len(reports)} sweeps; last: {reports[-1]}"


def sync_models() -> str:
    return str(catalog_sync())


def fetch_outputs(job_id: int) -> str:
    return str(outputs_fetch(job_id=job_id))


def prune_deliveries() -> str:
    return str(webhook_deliveries_prune())
