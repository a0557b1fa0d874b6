"""``videogen.services.bulk``: set-based writes on PostgreSQL, rows in one JSON parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.factories import make_workspace
from videogen.models import JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.services import bulk

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

EXACT = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)


@pytest.fixture
def jobs():
    workspace = make_workspace()
    return [
        VideoJob.objects.create(workspace=workspace, model="m", provider_job_id=f"bulk-{i}")
        for i in range(3)
    ]


def test_update_writes_each_rows_values_exactly(jobs):
    rows = [
        (
            job.pk,
            None,
            {
                "status": JobStatus.COMPLETED,
                "finished_at": EXACT + timedelta(seconds=i),
                "usage": {"cost": Decimal("0.10") * i, "is_byok": False},
                "unsigned_urls": [f"https://x.test/{i}"],
                "error": 'quotes " and \\ backslashes',
                "locally_closed": bool(i % 2),
            },
        )
        for i, job in enumerate(jobs)
    ]
    assert bulk.update(VideoJob, rows, list(rows[0][2])) == 3
    for i, job in enumerate(jobs):
        job.refresh_from_db()
        assert job.finished_at == EXACT + timedelta(seconds=i)  # microseconds kept
        assert job.usage == {"cost": str(Decimal("0.10") * i), "is_byok": False}
        assert job.unsigned_urls == [f"https://x.test/{i}"]
        assert job.error == 'quotes " and \\ backslashes'
        assert job.locally_closed is bool(i % 2) and job.status == JobStatus.COMPLETED


def test_update_with_a_version_writes_only_rows_that_still_hold_it(jobs):
    VideoJob.objects.filter(pk=jobs[1].pk).update(version=5)
    rows = [(job.pk, 0, {"provider_status": "seen"}) for job in jobs]
    written = bulk.update(
        VideoJob, rows, ["provider_status"], version="version", also={"updated_at": EXACT}
    )
    assert written == 2
    assert list(VideoJob.objects.order_by("pk").values_list("provider_status", "version")) == [
        ("seen", 1),
        ("", 5),
        ("seen", 1),
    ]
    assert VideoJob.objects.filter(updated_at=EXACT).count() == 2


def test_insert_sets_primary_keys_in_order_and_auto_fields(jobs):
    events = [
        JobEvent(job=job, from_status="pending", to_status="completed", source="poll")
        for job in jobs
    ]
    written = bulk.insert(events)
    assert [pk for pk, _ in written] == [event.pk for event in events]
    assert sorted(e.pk for e in events) == [e.pk for e in events]
    stored = JobEvent.objects.in_bulk([e.pk for e in events])
    assert all(stored[e.pk].job_id == e.job_id and stored[e.pk].created_at for e in events)


def test_insert_skips_rows_that_would_break_the_unique_column(jobs):
    first = UsageEntry.objects.create(
        job=jobs[0], workspace=jobs[0].workspace, model="m", cost=Decimal("1"), completed_at=EXACT
    )
    entries = [
        UsageEntry(
            job=job, workspace=job.workspace, model="m", cost=Decimal("0.25"), completed_at=EXACT
        )
        for job in jobs
    ]
    written = bulk.insert(entries, unique_on="job")
    assert sorted(job_id for _, job_id in written) == [jobs[1].pk, jobs[2].pk]
    assert entries[0].pk is None and entries[1].pk and entries[2].pk
    assert UsageEntry.objects.get(job=jobs[0]).cost == first.cost  # never overwritten
    assert UsageEntry.objects.get(job=jobs[1]).cost == Decimal("0.25")
