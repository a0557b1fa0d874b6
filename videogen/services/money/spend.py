"""A workspace's spend in one calendar month, for its admins' spend page.

The numbers are the ledger's, grouped by the database (``reports.usage_report`` by day and
model, one query) in the site's time zone, as budgets count months. The page's CSV is the
same report, so the chart, the totals and the download never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from videogen.models import VideoModel, Workspace
from videogen.services.money.budgets import workspace_month_spend
from videogen.services.money.reports import UsageReport, month_range, usage_report

_ZERO = Decimal(0)


@dataclass(frozen=True)
class ModelSpend:
    model: str
    name: str
    jobs: int
    seconds: int
    cost: Decimal
    percent: int  # of the month's total, rounded


@dataclass(frozen=True)
class DaySpend:
    day: date
    by_model: dict[str, Decimal]
    total: Decimal


@dataclass(frozen=True)
class MonthSpend:
    workspace: Workspace
    first: date
    last: date
    report: UsageReport  # by day and model: the CSV
    days: list[DaySpend]  # every day of the month, spent or not
    models: list[ModelSpend]  # most spent first
    total: Decimal
    jobs: int
    is_current: bool
    budget: Decimal | None
    in_flight: Decimal  # estimates of jobs not billed yet (current month only)

    @property
    def previous(self) -> date:
        return self.first - timedelta(days=1)

    @property
    def next(self) -> date | None:
        following = self.last + timedelta(days=1)
        return None if following > timezone.localdate(timezone=_site_zone()) else following

    @property
    def budget_percent(self) -> int | None:
        if not self.budget:
            return None
        return round((self.total + self.in_flight) * 100 / self.budget)


def _site_zone():
    # Budgets count calendar months in the site's zone, whatever zone a request activated.
    return timezone.get_default_timezone()


def workspace_spend_month(*, workspace: Workspace, year: int, month: int) -> MonthSpend:
    first, last = month_range(year, month)
    report = usage_report(
        workspace_ids=[workspace.pk],
        start=first,
        end=last,
        group_by=("day", "model"),
        tz=_site_zone(),
    )
    per_day: dict[date, dict[str, Decimal]] = {}
    per_model: dict[str, list] = {}
    for row in report.rows:
        model = row.keys["model"]
        per_day.setdefault(row.keys["day"], {})[model] = row.cost
        totals = per_model.setdefault(model, [0, 0, _ZERO])
        totals[0] += row.jobs
        totals[1] += row.seconds
        totals[2] += row.cost
    total = sum((t[2] for t in per_model.values()), _ZERO)
    names = dict(
        VideoModel.objects.filter(model_id__in=list(per_model)).values_list("model_id", "name")
    )
    models = sorted(
        (
            ModelSpend(
                model=model,
                name=names.get(model) or model,
                jobs=jobs,
                seconds=seconds,
                cost=cost,
                percent=round(cost * 100 / total) if total else 0,
            )
            for model, (jobs, seconds, cost) in per_model.items()
        ),
        key=lambda m: (-m.cost, m.model),
    )
    days = []
    day = first
    while day <= last:
        costs = per_day.get(day, {})
        days.append(DaySpend(day=day, by_model=costs, total=sum(costs.values(), _ZERO)))
        day += timedelta(days=1)
    today = timezone.localdate(timezone=_site_zone())
    is_current = first <= today <= last
    in_flight = _ZERO
    if is_current and workspace.monthly_budget is not None:
        _spent, in_flight = workspace_month_spend(workspace_id=workspace.pk)
    return MonthSpend(
        workspace=workspace,
        first=first,
        last=last,
        report=report,
        days=days,
        models=models,
        total=total,
        jobs=sum(m.jobs for m in models),
        is_current=is_current,
        budget=workspace.monthly_budget if is_current else None,
        in_flight=in_flight,
    )
