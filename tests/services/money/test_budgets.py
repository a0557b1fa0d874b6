import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import make_job, make_workspace
from videogen import signals
from videogen.models import UsageEntry, VideoJob, VideoModel
from videogen.services.jobs.submission import job_create
from videogen.services.money.budgets import BudgetExceededError, month_start, workspace_month_spend

# A flat 0.50 per video, so every estimate is exactly 0.50.
REQUEST = {"model": "flat/model", "prompt": "x"}


@pytest.fixture
def flat_model(db):
    return VideoModel.objects.create(
        model_id="flat/model", name="Flat", pricing_skus={"generate": "0.50"}
    )


@pytest.fixture
def captured_signals():
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    signals.budget_exceeded.connect(receiver)
    yield seen
    signals.budget_exceeded.disconnect(receiver)


def spend(workspace, amount, when=None):
    job = make_job(workspace, status="completed")
    UsageEntry.objects.create(
        job=job,
        workspace=workspace,
        model="flat/model",
        cost=Decimal(amount),
        completed_at=when or timezone.now(),
    )


@pytest.mark.django_db
def test_month_to_date_counts_the_ledger_and_in_flight_estimates(flat_model):
    ws = make_workspace()
    spend(ws, "2.00")
    spend(ws, "9.00", when=month_start() - timedelta(seconds=1))  # last month
    make_job(ws, status="in_progress", estimated_cost=Decimal("0.75"))
    make_job(ws, status="queued", estimated_cost=Decimal("0.25"))
    make_job(ws, status="failed", estimated_cost=Decimal("5"))
    assert workspace_month_spend(workspace_id=ws.pk) == (Decimal("2.00"), Decimal("1.00"))


@pytest.mark.django_db
def test_blocked_job_is_refused_with_the_numbers(flat_model, enqueued, captured_signals):
    ws = make_workspace(monthly_budget=Decimal("3.00"))
    spend(ws, "2.60")
    with pytest.raises(BudgetExceededError) as excinfo:
        job_create(workspace=ws, data=REQUEST)
    message = str(excinfo.value)
    assert "spent 2.60" in message and "this job 0.50" in message and "budget 3.00" in message
    assert VideoJob.objects.filter(status="queued").count() == 0
    assert captured_signals[-1]["blocked"] is True


@pytest.mark.django_db
def test_warn_policy_accepts_and_signals(
    flat_model, enqueued, captured_signals, django_capture_on_commit_callbacks
):
    ws = make_workspace(monthly_budget=Decimal("1.00"), budget_policy="warn")
    with django_capture_on_commit_callbacks(execute=True):
        job_create(workspace=ws, data=REQUEST)  # 0.50: below 80 %
        job_create(workspace=ws, data=REQUEST)  # 1.00: crosses 80 % and 100 %
        job_create(workspace=ws, data=REQUEST)  # 1.50: already past both
    assert [s["threshold"] for s in captured_signals] == [Decimal("0.8"), Decimal("1.0")]
    assert all(not s["blocked"] for s in captured_signals)
    assert VideoJob.objects.filter(workspace=ws).count() == 3


@pytest.mark.django_db
def test_no_budget_means_no_limit(flat_model, enqueued):
    ws = make_workspace()
    for _ in range(3):
        job_create(workspace=ws, data=REQUEST)
    assert VideoJob.objects.filter(workspace=ws, estimated_cost=Decimal("0.5")).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submitters_can_never_overspend(flat_model, enqueued):
    ws = make_workspace(monthly_budget=Decimal("5.00"))  # room for exactly 10 jobs
    barrier = threading.Barrier(12)
    outcomes = []

    def submit():
        try:
            barrier.wait()
            for _ in range(3):
                try:
                    job_create(workspace=ws, data=REQUEST)
                    outcomes.append("ok")
                except BudgetExceededError:
                    outcomes.append("blocked")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 10 and outcomes.count("blocked") == 26
    total = sum(VideoJob.objects.filter(workspace=ws).values_list("estimated_cost", flat=True))
    assert total == Decimal("5.00")


@pytest.mark.django_db
@pytest.mark.parametrize("active", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_budget_month_is_the_sites_whatever_time_zone_a_request_activated(
    flat_model, settings, active
):
    from rest_framework.test import APIClient

    from tests.factories import make_member
    from videogen.models import Role

    settings.TIME_ZONE = "UTC"
    ws = make_workspace(monthly_budget=Decimal("1.20"))
    admin = make_member(ws, role=Role.ADMIN)
    site_month = month_start()
    spend(ws, "1.00", when=site_month + timedelta(seconds=1))  # this month on the site
    spend(ws, "10.00", when=site_month - timedelta(seconds=1))  # last month on the site
    client = APIClient()
    client.force_authenticate(admin)
    with timezone.override(active):  # e.g. a host middleware activating the user's zone
        budget = client.get(f"/videogen/api/workspaces/{ws.slug}/").json()["budget"]
        with pytest.raises(BudgetExceededError, match=r"spent 1\.00 "):
            job_create(workspace=ws, data=REQUEST)
    assert Decimal(budget["spent_this_month"]) == Decimal("1.00")


@pytest.mark.django_db
def test_refusal_messages_show_amounts_in_cents(flat_model, enqueued):
    ws = make_workspace(monthly_budget=Decimal("5.3"))
    spend(ws, "5.30")
    with pytest.raises(BudgetExceededError) as refused:
        job_create(workspace=ws, data=REQUEST)
    assert "spent 5.30 + in flight 0.00 + this job 0.50 = 5.80 USD, budget 5.30 USD" in str(
        refused.value
    )
