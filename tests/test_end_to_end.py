"""The app, a live site and the simulator together: completion by webhook before any poll."""

from __future__ import annotations

import time

import pytest

from tests.factories import make_workspace
from tests.fixtures_app import live_site_settings
from videogen.models import JobEvent, UsageEntry, VideoJob, WebhookDelivery
from videogen.services.catalog import catalog_sync
from videogen.services.jobs.submission import job_create, job_submit

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-e2e"


@pytest.fixture
def simulator_config():
    from tests.fixtures_simulator import fast_config

    return fast_config(webhook_secret=SECRET, pending_seconds=0.1, processing_seconds=0.2)


@pytest.fixture
def site(live_server, simulator, settings, enqueued):
    # Polls far in the future: only the webhook can complete the job.
    settings.VIDEOGEN = live_site_settings(
        simulator, live_server, SECRET, POLL_INITIAL_DELAY_SECONDS=3600
    )
    catalog_sync()
    return simulator


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_jobs_complete_by_webhook_before_any_poll_and_the_ledger_is_written_once(site):
    workspace = make_workspace()
    jobs = [
        job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": f"fox {i}"})
        for i in range(3)
    ]
    for job in jobs:
        job_submit(job_id=job.pk)
    assert wait_until(lambda: VideoJob.objects.filter(status="completed").count() == 3)
    for job in jobs:
        job.refresh_from_db()
        assert job.poll_attempts == 0
        assert JobEvent.objects.get(job=job, to_status="completed").source == "webhook"
        assert UsageEntry.objects.get(job=job).cost == job.cost > 0
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 3
    # The simulator's signatures verified; nothing was rejected.
    assert not WebhookDelivery.objects.filter(signature_valid=False).exists()


def test_failed_job_by_webhook(site):
    job = job_create(
        workspace=make_workspace(), data={"model": "google/veo-3.1", "prompt": "x [sim:fail]"}
    )
    job_submit(job_id=job.pk)
    assert wait_until(lambda: VideoJob.objects.get(pk=job.pk).status == "failed")
    job.refresh_from_db()
    assert job.error and job.failure_reason == "provider_failed"
    assert not UsageEntry.objects.filter(job=job, cost__gt=0).exists()
