"""Monthly budgets per workspace, held at submission under a lock on the workspace.

committed = month-to-date ledger spend
          + estimates of the workspace's jobs that may still bill (queued, submitting,
            outcome unknown, pending, in progress)
          + estimates of this month's completed jobs whose cost has not arrived yet
projected = committed + this job's estimate

With the ``block`` policy a job whose projected total exceeds the budget is refused with
the numbers; with ``warn`` it is accepted. ``budget_exceeded`` fires when a submission takes
the projected total across 80 % or 100 % of the budget (and for every refused job, once
the refused job's transaction has rolled back and the workspace lock is released: see
``budget_refusal_announce``). The workspace row is locked (``SELECT … FOR UPDATE``) while
checking and creating the job, so concurrent submissions on PostgreSQL are serialised and
cannot overspend together. Months are calendar months in the site's default time zone
(``settings.TIME_ZONE``), whatever time zone a request has activated. A job with no
estimate adds nothing to the projection (see ``services.estimates`` for when there is none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from videogen import signals
from videogen.models import BudgetPolicy, JobStatus, UsageEntry, VideoJob, Workspace
from videogen.services.money.display import money

THRESHOLDS = (Decimal("0.8"), Decimal("1.0"))
_ZERO = Decimal(0)


class BudgetExceededError(Exception):
    """A submission would take the workspace over its monthly budget (policy: block)."""

    def __init__(self, check: BudgetCheck):
        self.check = check
        super().__init__(
            f"Monthly budget of workspace {check.workspace.name!r} would be exceeded: "
            f"spent {money(check.spent, '')} + in flight {money(check.in_flight, '')} "
            f"+ this job {money(check.estimate, '')} = {money(check.projected)}, "
            f"budget {money(check.budget)}."
        )


@dataclass(frozen=True)
class BudgetCheck:
    workspace: Workspace
    budget: Decimal | None
    spent: Decimal
    in_flight: Decimal
    estimate: Decimal

    @property
    def committed(self) -> Decimal:
        return self.spent + self.in_flight

    @property
    def projected(self) -> Decimal:
        return self.committed + self.estimate

    @property
    def allowed(self) -> bool:
        return (
            self.budget is None
            or self.workspace.budget_policy == BudgetPolicy.WARN
            or self.projected <= self.budget
        )

    def crossed(self) -> list[Decimal]:
        """Thresholds (fractions of the budget) this submission takes the total across."""
        if not self.budget:
            return []
        return [t for t in THRESHOLDS if self.committed < self.budget * t <= self.projected]


def month_start(now: datetime | None = None) -> datetime:
    """Midnight on the 1st of the month, in the site's time zone (not the active one: a
    request that activated its user's zone must not move the workspace's month)."""
    local = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def workspace_month_spend(
    *, workspace_id: int, now: datetime | None = None
) -> tuple[Decimal, Decimal]:
    """(month-to-date ledger spend, estimates of jobs whose cost is not known yet)."""
    start = month_start(now)
    spent = (
        UsageEntry.objects.filter(workspace_id=workspace_id, completed_at__gte=start).aggregate(
            total=Sum("cost")
        )["total"]
        or _ZERO
    )
    pending = (
        VideoJob.objects.filter(workspace_id=workspace_id)
        .filter(
            Q(status__in=JobStatus.may_bill())
            | Q(status=JobStatus.COMPLETED, finished_at__gte=start, usage_entry__cost__isnull=True)
        )
        .aggregate(total=Sum("estimated_cost"))["total"]
        or _ZERO
    )
    return spent, pending


def budget_check_locked(*, workspace_id: int, estimate: Decimal | None) -> BudgetCheck:
    """Lock the workspace and check one more job against its budget.

    Call inside ``transaction.atomic()``; create the job in the same transaction so the
    lock covers it. Raises ``BudgetExceededError`` when the policy blocks; pass it to
    ``budget_refusal_announce`` once that transaction has rolled back.
    """
    workspace = Workspace.objects.select_for_update().get(pk=workspace_id)
    if workspace.monthly_budget is None:
        return BudgetCheck(workspace, None, _ZERO, _ZERO, estimate or _ZERO)
    spent, in_flight = workspace_month_spend(workspace_id=workspace_id)
    check = BudgetCheck(workspace, workspace.monthly_budget, spent, in_flight, estimate or _ZERO)
    if not check.allowed:
        raise BudgetExceededError(check)
    for threshold in check.crossed():
        transaction.on_commit(lambda t=threshold: _send(check, t, blocked=False), robust=True)
    return check


def budget_refusal_announce(error: BudgetExceededError) -> None:
    """Send ``budget_exceeded`` (``blocked=True``) for a refused job.

    Call it after the refused job's transaction has rolled back: the receivers then hold no
    lock on the workspace, and what they write is not undone by that rollback.
    """
    _send(error.check, Decimal("1.0"), blocked=True)


def _send(check: BudgetCheck, threshold: Decimal, *, blocked: bool) -> None:
    signals.budget_exceeded.send(
        sender=Workspace,
        workspace=check.workspace,
        threshold=threshold,
        spent=check.spent,
        committed=check.projected,
        budget=check.budget,
        blocked=blocked,
    )
