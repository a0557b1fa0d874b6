"""Usage reports from the ledger: spend by workspace, model, day or month, computed by the
database (one GROUP BY query), for the API, the admin and ``videogen_usage_report``. What a
report may be asked for is defined once, in ``report_parameters``.

Dates are calendar dates in the given time zone (the site's by default): a range
``start..end`` covers ``start 00:00`` up to, not including, ``end + 1 day 00:00`` there.
Average cost per second of video is total cost over total seconds of the priced jobs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone

from videogen.models import UsageEntry
from videogen.services.money.report_parameters import (
    ReportError,
    check_period,
    month_range,
    report_dimensions,
)

__all__ = ["ReportError", "month_range", "report_as_csv", "report_as_json", "usage_report"]

# The ledger's precision; SQLite's SUM would otherwise print 15 digits and PostgreSQL 8.
MONEY_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class UsageRow:
    keys: dict[str, Any]
    jobs: int
    priced_jobs: int
    cost: Decimal
    seconds: int

    @property
    def cost_per_second(self) -> Decimal | None:
        return (self.cost / self.seconds).quantize(MONEY_PLACES) if self.seconds else None

    @property
    def average_cost(self) -> Decimal | None:
        return (
            (self.cost / self.priced_jobs).quantize(Decimal("0.00000001"))
            if self.priced_jobs
            else None
        )


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date
    group_by: tuple[str, ...]
    time_zone: str
    rows: list[UsageRow] = field(default_factory=list)

    @property
    def total(self) -> UsageRow:
        return UsageRow(
            keys={},
            jobs=sum(r.jobs for r in self.rows),
            priced_jobs=sum(r.priced_jobs for r in self.rows),
            cost=sum((r.cost for r in self.rows), Decimal(0)).quantize(MONEY_PLACES),
            seconds=sum(r.seconds for r in self.rows),
        )


def _bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def usage_report(
    *,
    workspace_ids: Iterable[int] | None,
    start: date,
    end: date,
    group_by: Sequence[str] = ("model",),
    tz: tzinfo | None = None,
) -> UsageReport:
    """Aggregate ledger rows completed between ``start`` and ``end`` (inclusive dates).

    ``workspace_ids=None`` means every workspace (staff reports). Raises ``ReportError`` for
    parameters outside the rules of ``report_parameters``.
    """
    group_by = report_dimensions(group_by)
    check_period(start, end)
    tz = tz or timezone.get_current_timezone()
    low, high = _bounds(start, end, tz)

    entries = UsageEntry.objects.filter(completed_at__gte=low, completed_at__lt=high)
    if workspace_ids is not None:
        entries = entries.filter(workspace_id__in=list(workspace_ids))
    columns: dict[str, Any] = {}
    if "workspace" in group_by:
        columns["workspace_slug"] = F("workspace__slug")
    if "model" in group_by:
        columns["model_id"] = F("model")
    if "day" in group_by:
        columns["day"] = TruncDay("completed_at", tzinfo=tz)
    if "month" in group_by:
        columns["month"] = TruncMonth("completed_at", tzinfo=tz)
    names = list(columns)
    rows = (
        entries.annotate(**columns)
        .values(*names)
        .annotate(
            jobs=Count("*"),
            priced_jobs=Count("cost"),
            total_cost=Sum("cost"),
            seconds=Sum("duration", filter=Q(cost__isnull=False)),
        )
        # No ORDER BY: PostgreSQL may then hash into the few groups instead of sorting every
        # row; the handful of result rows are sorted below.
        .order_by()
    )
    result = []
    for row in rows:
        keys = {}
        for name in names:
            value = row[name]
            if name in ("day", "month") and isinstance(value, datetime):
                value = timezone.localtime(value, tz).date()
            keys[{"model_id": "model", "workspace_slug": "workspace"}.get(name, name)] = value
        result.append(
            UsageRow(
                keys=keys,
                jobs=row["jobs"],
                priced_jobs=row["priced_jobs"],
                cost=(row["total_cost"] or Decimal(0)).quantize(MONEY_PLACES),
                seconds=row["seconds"] or 0,
            )
        )
    result.sort(key=lambda row: tuple(str(value) for value in row.keys.values()))
    return UsageReport(start=start, end=end, group_by=group_by, time_zone=str(tz), rows=result)


def _money(value: Decimal | None) -> str | None:
    # Fixed-point always: str(Decimal("0E-8")) would print the exponent.
    return None if value is None else f"{value:f}"


def _row_dict(report: UsageReport, row: UsageRow) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in report.group_by:
        value = row.keys.get(name)
        data[name] = (
            value.isoformat()[: 7 if name == "month" else 10] if isinstance(value, date) else value
        )
    data.update(
        jobs=row.jobs,
        priced_jobs=row.priced_jobs,
        cost=_money(row.cost),
        seconds=row.seconds,
        average_cost=_money(row.average_cost),
        cost_per_second=_money(row.cost_per_second),
    )
    return data


def report_as_json(report: UsageReport) -> dict[str, Any]:
    """JSON-ready dict; money as strings so no float ever touches it."""
    total = _row_dict(report, report.total)
    for name in report.group_by:
        total.pop(name, None)
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "time_zone": report.time_zone,
        "currency": "USD",
        "group_by": list(report.group_by),
        "rows": [_row_dict(report, row) for row in report.rows],
        "total": total,
    }


def report_as_csv(report: UsageReport) -> str:
    buffer = io.StringIO()
    rows = [_row_dict(report, row) for row in report.rows]
    header = [
        *report.group_by,
        "jobs",
        "priced_jobs",
        "cost",
        "seconds",
        "average_cost",
        "cost_per_second",
    ]
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
