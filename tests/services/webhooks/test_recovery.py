"""Recovery of unknown submission outcomes by the provider's callback (through the webhook view).

Each submission's callback URL carries the job's opaque reference (``?ref=``); a signed event
for a provider job the site never heard of binds it to that job, and only then.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import make_job
from tests.webhook_signing import SECRET, event, sign
from videogen.models import JobStatus, UsageEntry, WebhookOutcome

pytestmark = pytest.mark.django_db

URL = "/videogen/webhooks/openrouter/"


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": "https://openrouter.test/api/v1",
        "WEBHOOK_SECRETS": [SECRET],
        "STORE_OUTPUTS": False,
    }


def deliver(body: bytes, ref: str | None):
    url = URL if ref is None else f"{URL}?ref={ref}"
    return Client(enforce_csrf_checks=True).post(
        url, body, content_type="application/json", HTTP_X_OPENROUTER_SIGNATURE=sign(body)
    )


def unknown_job(**fields):
    fields.setdefault("callback_ref", "ref-of-the-lost-job")
    return make_job(status=JobStatus.UNKNOWN, failure_reason="timeout", **fields)


def test_an_event_for_an_unknown_provider_job_completes_the_job_its_reference_names():
    job = unknown_job()
    response = deliver(event("job-created-after-all", cost=0.4), job.callback_ref)
    assert response.status_code == 204
    job.refresh_from_db()
    assert (job.status, job.provider_job_id) == ("completed", "job-created-after-all")
    assert job.failure_reason == "" and job.generation_id == "gen-job-created-after-all"
    assert UsageEntry.objects.get(job=job).cost == Decimal("0.4")
    assert "callback" in job.events.get(to_status="completed").message


def test_a_job_abandoned_by_staff_is_still_completed_and_billed_by_its_callback():
    job = make_job(
        status=JobStatus.FAILED, failure_reason="abandoned", locally_closed=True, callback_ref="r1"
    )
    assert deliver(event("job-late", cost=0.3), "r1").status_code == 204
    job.refresh_from_db()
    assert (job.status, job.provider_job_id, job.locally_closed) == ("completed", "job-late", False)
    assert UsageEntry.objects.filter(job=job).exists()
    assert list(job.events.values_list("from_status", "to_status")) == [("failed", "completed")]


@pytest.mark.parametrize(
    ("ref", "setup"),
    [
        (None, {}),
        ("no-such-reference", {}),
        ("ref-of-the-lost-job", {"provider_job_id": "job-already-bound"}),
        ("ref-of-the-lost-job", {"model": "kling/kling-2.1"}),
        ("x" * 500, {}),
    ],
    ids=["no reference", "unknown reference", "already bound", "other model", "oversized"],
)
def test_an_event_is_bound_only_to_the_job_its_reference_names_and_only_once(ref, setup):
    job = unknown_job(**setup)
    response = deliver(event("job-stranger"), ref)
    assert response.status_code == 204
    job.refresh_from_db()
    assert job.status == JobStatus.UNKNOWN
    assert job.provider_job_id == setup.get("provider_job_id")
    assert not UsageEntry.objects.exists()
    assert WebhookOutcome.UNKNOWN_JOB in set(
        job.webhook_deliveries.model.objects.values_list("outcome", flat=True)
    )
