"""The receiver's cost per delivery (issue #15) and the one transaction of a first delivery.

Statement counts, not timings: BEGIN and COMMIT are counted (Django logs them), so these
tests run outside the test's own transaction.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_job
from tests.webhook_signing import SECRET, event, sign
from videogen.models import JobEvent, JobStatus, UsageEntry, WebhookDelivery, WebhookOutcome
from videogen.provider.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER
from videogen.services.webhooks.receive import webhook_receive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": "https://openrouter.test/api/v1",
        "WEBHOOK_SECRETS": [SECRET],
        # The output download's enqueue is the broker's statement, not the receiver's.
        "STORE_OUTPUTS": False,
    }


@pytest.fixture
def job():
    return make_job(status=JobStatus.IN_PROGRESS, provider_job_id="job-1", duration=8)


def deliver(body: bytes):
    headers = {SIGNATURE_HEADER: sign(body), IDEMPOTENCY_HEADER: "job-1-completed"}
    return webhook_receive(body=body, headers=headers)


def verbs(captured) -> Counter:
    return Counter(q["sql"].split()[0].upper() for q in captured.captured_queries)


def test_a_first_delivery_is_one_transaction_of_at_most_nine_statements(job):
    with CaptureQueriesContext(connection) as captured:
        answer = deliver(event("job-1", cost=0.5))
    assert answer.status_code == 204
    statements = verbs(captured)
    # The read that answers retries, then one transaction: the job's lock, its ledger row,
    # the job, its event, the ledger row, the delivery. Half the 20 before issue #15.
    assert sum(statements.values()) <= 9, captured.captured_queries
    assert statements["BEGIN"] == 1 and statements["COMMIT"] == 1
    assert "SAVEPOINT" not in statements and "RELEASE" not in statements
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.cost == Decimal("0.5")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.job_id) == (WebhookOutcome.PROCESSED, job.pk)


def test_a_duplicate_is_one_statement(job):
    body = event("job-1", cost=0.5)
    assert deliver(body).status_code == 204
    with CaptureQueriesContext(connection) as captured:
        answer = deliver(body)
    assert answer.status_code == 204 and answer.message.startswith("Duplicate delivery")
    assert len(captured.captured_queries) == 1
    assert WebhookDelivery.objects.count() == 1 and JobEvent.objects.count() == 1


def test_an_error_late_in_the_transaction_rolls_back_the_jobs_change_too(job, monkeypatch):
    from videogen.services.jobs import lifecycle

    def refuse(**kwargs):
        raise DataError("numeric field overflow")

    # After the job's update and its event: both must go with the rollback.
    monkeypatch.setattr(lifecycle, "ledger_write", refuse)
    answer = deliver(event("job-1", cost=0.5))
    assert answer.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS
    assert not JobEvent.objects.exists() and not UsageEntry.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookOutcome.UNPROCESSABLE and "DataError" in delivery.error
    assert delivery.idempotency_key == "job-1-completed"
    monkeypatch.undo()
    assert deliver(event("job-1", cost=0.5)).status_code == 204  # the retry: a duplicate
    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS
