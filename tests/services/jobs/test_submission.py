from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_workspace
from tests.services.conftest import API
from videogen.models import JobEvent, JobStatus, VideoJob
from videogen.services import queue
from videogen.services.jobs import submission
from videogen.services.jobs.reconcile import reconcile_sweep
from videogen.services.jobs.request import validate_job_request
from videogen.services.jobs.submission import (
    job_abandon,
    job_cancel,
    job_create,
    job_resubmit,
    job_submit,
)
from videogen.services.money.estimates import estimate_cost

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


def test_create_takes_a_validated_request_without_validating_it_again(
    catalog, provider_settings, no_broker
):
    request = validate_job_request(REQUEST)  # as the API's serializer and the pages' form do
    workspace = make_workspace()
    with CaptureQueriesContext(connection) as queries:
        job = job_create(workspace=workspace, data=request)
    assert not any("videogen_videomodel" in q["sql"] for q in queries.captured_queries)
    assert (job.model, job.duration, job.estimated_cost) == (
        request["model"],
        8,
        estimate_cost(model=request.catalog_entry, request=request).cost,
    )
    assert request["callback_url"] == ""  # the caller's request is left as it was


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
        {"status": 408, "json": {"error": {"code": 408, "message": "request timeout"}}},
        {"body": requests.exceptions.ConnectTimeout("timed out")},
    ],
)
def test_failures_that_prove_nothing_was_created_return_the_job_to_queued_with_backoff(
    job, mocked_provider, answer
):
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


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, "timeout"),
        ({"body": requests.exceptions.ConnectionError("Connection aborted.")}, "connection_error"),
        ({"status": 202, "body": '{"id": "job-'}, "malformed_response"),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, "server_error"),
        ({"status": 500, "json": {"detail": "oops"}}, "server_error"),
    ],
)
def test_failures_after_the_request_may_have_arrived_leave_the_outcome_unknown(
    job, mocked_provider, answer, reason, no_broker
):
    post = mocked_provider.post(f"{API}/videos", **answer)
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == (JobStatus.UNKNOWN, reason)
    assert "outcome unknown" in job.last_error.lower() and not job.needs_attention
    # No sweep, no repeated task ever POSTs it again.
    VideoJob.objects.filter(pk=job.pk).update(submitted_at=timezone.now() - timedelta(hours=2))
    no_broker.clear()
    reconcile_sweep()
    job_submit(job_id=job.pk)
    assert post.call_count == 1 and no_broker == []
    job.refresh_from_db()
    # ... and, with no callback in time, staff are asked to decide.
    assert job.status == JobStatus.UNKNOWN and job.needs_attention
    assert "Mark abandoned" in job.last_error


def test_a_2xx_that_names_its_job_binds_it_even_when_the_rest_does_not_parse(job, mocked_provider):
    mocked_provider.post(f"{API}/videos", json={"id": "job-odd", "status": 17}, status=202)
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.provider_job_id) == (JobStatus.PENDING, "job-odd")
    assert "unreadable answer" in job.last_error


def test_an_unknown_status_in_the_answer_still_binds_the_job(job, mocked_provider):
    mocked_provider.post(f"{API}/videos", json={**ACCEPTED, "status": "queued-upstream"})
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.provider_job_id) == (JobStatus.PENDING, ACCEPTED["id"])
    assert job.provider_status == "queued-upstream"


def test_crash_after_post_leaves_the_outcome_unknown_and_never_resends(
    job, mocked_provider, monkeypatch, no_broker
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

    # The sweep moves it to "unknown" and never POSTs it again.
    VideoJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=11))
    reconcile_sweep()
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == (JobStatus.UNKNOWN, "worker_stopped")
    assert "not sent again automatically" in job.last_error
    assert post.call_count == 1


def test_resubmit_sends_a_new_job_and_keeps_the_original_recoverable(
    job, mocked_provider, no_broker, django_capture_on_commit_callbacks
):
    post = mocked_provider.post(f"{API}/videos", body=requests.exceptions.ReadTimeout("slow"))
    job_submit(job_id=job.pk)
    with django_capture_on_commit_callbacks(execute=True):
        result = job_resubmit(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.failure_reason, job.locally_closed) == ("failed", "resubmitted", True)
    clone = result.job
    assert clone.resubmission_of == job and clone.status == JobStatus.QUEUED
    assert clone.callback_ref != job.callback_ref
    assert (clone.prompt, clone.duration, clone.model) == (job.prompt, job.duration, job.model)
    assert no_broker[-1] == clone.pk
    assert str(clone.public_id) in job.events.last().message
    # A job whose outcome is known is never resubmitted.
    assert job_resubmit(job_id=job.pk).job is None
    assert post.call_count == 1


def test_abandon_only_applies_to_unknown_outcomes(job, mocked_provider):
    assert not job_abandon(job_id=job.pk).changed  # queued: it can simply be cancelled
    mocked_provider.post(f"{API}/videos", body=requests.exceptions.ReadTimeout("slow"))
    job_submit(job_id=job.pk)
    assert job_abandon(job_id=job.pk).changed
    job.refresh_from_db()
    assert (job.status, job.failure_reason, job.locally_closed) == ("failed", "abandoned", True)


def test_cancel_only_before_submission(job, mocked_provider):
    assert job_cancel(job_id=job.pk).changed
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not job_cancel(job_id=job.pk).changed
