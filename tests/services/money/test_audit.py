from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import make_job, make_workspace
from videogen.models import UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot
from videogen.services.jobs.lifecycle import job_apply_snapshot
from videogen.services.money.audit import ledger_audit

pytestmark = pytest.mark.django_db


def complete(job, cost="0.50"):
    job_apply_snapshot(
        job_id=job.pk,
        snapshot=VideoJobSnapshot.from_json(
            {"id": "x", "status": "completed", "usage": {"cost": Decimal(cost), "is_byok": False}}
        ),
        source="poll",
    )


def test_a_ledger_written_by_the_lifecycle_is_clean():
    ws = make_workspace()
    for _ in range(3):
        complete(make_job(ws, status="in_progress"))
    audit = ledger_audit()
    assert audit.ok and audit.checked_entries == 3


def test_missing_extra_and_unpriced_entries_are_reported():
    ws = make_workspace()
    missing = make_job(ws, status="completed", usage={"cost": "1"})
    extra = make_job(ws, status="pending")
    UsageEntry.objects.create(
        job=extra, workspace=ws, model=extra.model, completed_at=timezone.now()
    )
    unpriced = make_job(ws, status="completed", usage={"cost": None}, cost=None)
    problems = {(p.kind, p.job): p.detail for p in ledger_audit().problems}
    assert "reported usage (1 USD)" in problems["missing", str(missing.public_id)]
    assert ("extra", str(extra.public_id)) in problems
    assert "not reported its cost yet" in problems["unpriced", str(unpriced.public_id)]


def test_the_job_cost_is_its_ledger_row_so_they_cannot_disagree():
    job = make_job(status="in_progress")
    complete(job, "0.50")
    UsageEntry.objects.filter(job=job).update(cost=Decimal("0.60"))
    assert VideoJob.objects.get(pk=job.pk).cost == Decimal("0.60")
    assert ledger_audit().ok


def test_audit_scoped_to_workspaces():
    ws, other = make_workspace(), make_workspace()
    make_job(other, status="completed", usage={"cost": "1"})
    assert ledger_audit(workspace_ids=[ws.pk]).ok
    assert not ledger_audit(workspace_ids=[other.pk]).ok
