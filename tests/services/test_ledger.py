from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import make_job, make_workspace
from videogen.models import UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot
from videogen.services.ledger import ledger_audit
from videogen.services.lifecycle import job_apply_snapshot

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


def test_missing_extra_and_mismatched_entries_are_reported():
    ws = make_workspace()
    missing = make_job(ws, status="completed", usage={"cost": "1"}, cost=Decimal("1"))
    mismatched = make_job(ws, status="in_progress")
    complete(mismatched, "0.50")
    VideoJob.objects.filter(pk=mismatched.pk).update(cost=Decimal("0.60"))
    extra = make_job(ws, status="pending")
    UsageEntry.objects.create(
        job=extra, workspace=ws, model=extra.model, completed_at=timezone.now()
    )
    kinds = {(p.kind, p.job) for p in ledger_audit().problems}
    assert ("missing", str(missing.public_id)) in kinds
    assert ("mismatch", str(mismatched.public_id)) in kinds
    assert ("extra", str(extra.public_id)) in kinds


def test_audit_scoped_to_workspaces():
    ws, other = make_workspace(), make_workspace()
    make_job(other, status="completed", usage={"cost": "1"})
    assert ledger_audit(workspace_ids=[ws.pk]).ok
    assert not ledger_audit(workspace_ids=[other.pk]).ok
