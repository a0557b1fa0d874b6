"""Amounts of money in text for people (messages, command output, pages).

The ledger keeps 8 decimal places and SQLite sums come back with 14: ``5.30000000000000``.
People read cents: two decimals, and more only when a price really has them (``0.0035``).
JSON and CSV keep the exact strings; this is only for prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from videogen.models import JobStatus, VideoJob

CENTS = Decimal("0.01")
# The ledger's precision: nothing finer is ever stored.
SMALLEST = Decimal("0.00000001")


def money(amount: Decimal | int | str | None, currency: str = "USD") -> str:
    """``5.30 USD``, ``0.0035 USD``, ``12.00 USD``; ``unknown`` for ``None``."""
    if amount is None:
        return "unknown"
    try:
        value = Decimal(amount).quantize(SMALLEST)
    except (InvalidOperation, TypeError, ValueError):
        return f"{amount} {currency}".strip()
    if value == value.quantize(CENTS):
        text = f"{value.quantize(CENTS)}"
    else:
        text = f"{value.normalize():f}"
    return f"{text} {currency}".strip()


@dataclass(frozen=True)
class CostText:
    """What a page says about a job's cost: ``kind`` (a CSS modifier), the words, and the
    words for a narrow table cell."""

    kind: str  # charged, estimate, pending, not-charged, none
    text: str
    short: str


def job_cost_text(job: VideoJob) -> CostText:
    """The job's cost for people, from its ledger row (the one place a cost is stored).

    A charge is shown as such; a job still running shows its estimate, marked as one; a
    completed job whose cost has not arrived says so; an unsuccessful job says "not charged"
    unless the provider billed it (then the charge). Never an estimate that reads like a charge.
    """
    cost = job.cost
    successful = job.status == JobStatus.COMPLETED
    if cost is not None:
        if successful:
            return CostText("charged", money(cost), money(cost))
        if cost > 0:
            return CostText("charged", f"{money(cost)} charged", f"{money(cost)} charged")
        return CostText("not-charged", "not charged", "not charged")
    if job.status in JobStatus.terminal() and not successful:
        return CostText("not-charged", "not charged", "not charged")
    estimate = job.estimated_cost
    if successful:
        about = f" (about {money(estimate)})" if estimate is not None else ""
        return CostText("pending", f"cost not reported yet{about}", "cost pending")
    if estimate is not None:
        return CostText(
            "estimate", f"about {money(estimate)} (estimate)", f"est. {money(estimate)}"
        )
    return CostText("none", "no estimate", "no estimate")
