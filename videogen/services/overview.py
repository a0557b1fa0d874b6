"""What staff see first (the admin index): spend this month, this month's jobs by status,
and how many jobs need attention. A handful of indexed queries, whatever the table sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from videogen.models import JobStatus, UsageEntry, VideoJob
from videogen.services.money.budgets import month_start


@dataclass(frozen=True)
class StaffOverview:
    month_start: datetime
    spend: Decimal
    priced_jobs: int
    jobs_by_status: dict[str, int]  # every status, in lifecycle order, created this month
    needing_attention: int

    @property
    def jobs(self) -> int:
        return sum(self.jobs_by_status.values())


def staff_overview(*, now: datetime | None = None) -> StaffOverview:
    """The month is the calendar month in the site's time zone (as budgets count it)."""
    start = month_start(now or timezone.now())
    ledger = UsageEntry.objects.filter(completed_at__gte=start).aggregate(
        spend=Sum("cost"), priced=Count("cost")
    )
    counts = dict(
        VideoJob.objects.filter(created_at__gte=start)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
    )
    return StaffOverview(
        month_start=start,
        spend=ledger["spend"] or Decimal(0),
        priced_jobs=ledger["priced"],
        jobs_by_status={status: counts.get(status, 0) for status in JobStatus.values},
        needing_attention=VideoJob.objects.filter(needs_attention=True).count(),
    )
