from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import make_workspace
from tests.services.conftest import API
from videogen.models import JobEvent, JobStatus, VideoJob
from videogen.services import queue, submission
from videogen.services.reconcile import reconcile_sweep
from videogen.services.submission import job_cancel, job_create, job_resubmit, job_submit

pytestmark = pytest.mark.django_db

ACCEPTED = {"id": "job-abc123", "polling_url": "/api/v1/videos/job-abc123", "status": "pending"}
REQUEST = {"model": "google/veo-3.1", "prompt": "A fox in snow", "duration": 8}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Record enqueued submissions instead of talking to a broker."""
    enqueued = []
    monkeypatch.setattr(queue, "enqueue_submit", enqueued.append)
    return enqueued


@pytest.fixture
def job(catalog, provider_settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return job_create(workspace=make_workspace(), data=REQUEST)


def statuses(job):
    return list(JobEvent.objects.filter(job=job).values_list("to_status", flat=True))


def test_create_stores_the_job_queued_and_enqueues_after_commit(
    catalog, provider_settings, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_create(workspace=make_workspace(), data=REQUEST)
        assert no_broker == []
    for callback in callbacks:
        callback()
    assert no_broker == [job.pk]
    assert job.status == JobStatus.QUEUED and job.duration == 8
    assert statuses(job) == ["queued"]


def test_create_rejects_an_invalid_request_and_stores_nothing(catalog, provider_settings):
    with pytest.raises(ValidationError) as excinfo:
        job_create(workspace=make_workspace(), data={"model": "nope/nope", "prompt": "x"})
    assert "model" in excinfo.value.message_dict
    assert VideoJob.objects.count() == 0


def test_submit_posts_once_and_stores_the_provider_id(job, mocked_provider):
    post = mocked_provider.post(f"{API}/videos", json=ACCEPTED, status=202)
    job_submit(job_id=job.pk)
    job_submit(job_id=job.pk)  # a duplicate task: the claim already happened
    job.refresh_from_db()
    assert post.call_count == 1
    assert (job.status, job.provider_job_id, job.submit_attempts) == ("pending", "job-abc123", 1)
    assert job.submitted_at is not None and job.next_poll_at is not None
    assert statuses(job) == ["queued", "submitting", "pending"]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (402, "payment_required"),
        (413, "payload_too_large"),
    ],
)
def test_definite_provider_errors_fail_the_job_with_message_and_reason(
    job, mocked_provider, status, reason
):
    mocked_provider.post(
        f"{API}/videos",
        json={"error": {"code": status, "message": "Nope: said the provider"}},
        status=status,
    )
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == ("failed", reason)
    assert "Nope: said the provider" in job.error


@pytest.mark.parametrize(
    "answer",
    [
        {
            "status": 429,
            "json": {"error": {"code": 429, "message": "slow down"}},
            "headers": {"Retry-After": "30"},
        },
        {"status": 503, "json": {"error": {"code": 503, "message": "unavailable"}}},
        {"body": requests.exceptions.ConnectTimeout("timed out")},
        {"body": requests.exceptions.ConnectionError("reset")},
    ],
)
def test_transient_errors_return_the_job_to_queued_with_backoff(job, mocked_provider, answer):
    mocked_provider.post(f"{API}/videos", **answer)
    before = timezone.now()
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.submit_attempts == 1 and job.last_error
    assert job.next_poll_at > before
    if answer.get("headers"):
        assert job.next_poll_at >= before + timedelta(seconds=30)


def test_transient_errors_give_up_after_the_limit(job, mocked_provider, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "SUBMIT_MAX_ATTEMPTS": 2}
    mocked_provider.post(f"{API}/videos", status=500, json={"error": {"code": 500, "message": "x"}})
    job_submit(job_id=job.pk)
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.submit_attempts, job.failure_reason) == ("failed", 2, "server_error")


def test_due_queued_jobs_are_re_enqueued_by_the_sweep(job, no_broker, mocked_provider):
    no_broker.clear()
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    reconcile_sweep()
    reconcile_sweep()  # not again: its next deadline moved forward
    assert no_broker == [job.pk]


def test_crash_after_post_is_never_resent_until_staff_resubmit(
    job, mocked_provider, monkeypatch, no_broker, django_capture_on_commit_callbacks
):
    post = mocked_provider.post(f"{API}/videos", json=ACCEPTED, status=202)

    def crash(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(submission, "job_apply_snapshot", crash)
    with pytest.raises(SystemExit):
        job_submit(job_id=job.pk)
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTING and post.call_count == 1

    # Later sweeps flag it for staff and never POST it again.
    VideoJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    reconcile_sweep()
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert job.needs_attention and "not re-sent" in job.last_error
    assert post.call_count == 1

    # An explicit resubmit sends it again, once.
    with django_capture_on_commit_callbacks(execute=True):
        assert job_resubmit(job_id=job.pk).changed
    assert no_broker[-1] == job.pk
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert post.call_count == 2 and job.status == JobStatus.PENDING
    assert not job.needs_attention


def test_cancel_only_before_submission(job, mocked_provider):
    assert job_cancel(job_id=job.pk).changed
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not job_cancel(job_id=job.pk).changed
