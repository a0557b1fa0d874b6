"""The price of a video before it is made, and what it leaves of the workspace's budget.

The estimate is ``estimates.estimate_cost`` of the request's priced fields on the chosen
model; the budget numbers are those the budget check uses at submission (month-to-date spend
plus the estimates of jobs that may still bill), read without the lock: a quote informs, the
check at submission decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from videogen.models import BudgetPolicy, VideoModel, Workspace
from videogen.services.money.budgets import workspace_month_spend
from videogen.services.money.estimates import estimate_cost


@dataclass(frozen=True)
class Quote:
    estimate: Decimal | None
    reason: str  # how the estimate was read, or why there is none
    budget: Decimal | None
    committed: Decimal  # this month's spend and the estimates of jobs that may still bill
    blocks: bool  # the workspace refuses jobs over its budget

    @property
    def left(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.committed

    @property
    def after(self) -> Decimal | None:
        return None if self.left is None else self.left - (self.estimate or 0)

    @property
    def over_by(self) -> Decimal | None:
        after = self.after
        return -after if after is not None and after < 0 else None

    @property
    def refused(self) -> bool:
        """Submitting now would be refused (the ``block`` policy)."""
        return self.blocks and self.over_by is not None


def job_quote(
    *, workspace: Workspace, model: VideoModel | None, request: Mapping[str, Any]
) -> Quote:
    estimate = estimate_cost(model=model, request=request)
    committed = Decimal(0)
    if workspace.monthly_budget is not None:
        spent, in_flight = workspace_month_spend(workspace_id=workspace.pk)
        committed = spent + in_flight
    return Quote(
        estimate=estimate.cost,
        reason=estimate.reason,
        budget=workspace.monthly_budget,
        committed=committed,
        blocks=workspace.budget_policy == BudgetPolicy.BLOCK,
    )
