"""The ledger's write: one row per job, the only place a job's cost is stored.

The lifecycle calls this inside the job's locked transaction when a terminal job reports
usage: ``ledger_plan`` reads the row (if any) and decides, ``ledger_write`` writes it, with
``INSERT … ON CONFLICT DO NOTHING`` so that the one-row-per-job rule holds without a
savepoint in the caller's transaction. (The read is a statement of its own, after the job's
lock: joined to the locking read, PostgreSQL would return the row as it was before a lock
wait, without a ledger row the previous lock holder wrote.) A cost
that is ``null`` first and a number later fills the row once and leaves an audit event; a
*different* number after a known one is logged and ignored, so the ledger never silently
changes. This module never imports the lifecycle (it keeps its own logger).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from videogen.models import JobEvent, UsageEntry, VideoJob
from videogen.provider.types import VideoUsage
from videogen.services.rows import insert_unless_taken

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerPlan:
    """What a usage report does to a job's ledger row, decided before anything is written."""

    entry: UsageEntry | None  # the row as it is, if any
    usage: VideoUsage | None
    cost: Decimal | None  # the row's cost once written
    creates: bool = False
    fills_cost: bool = False

    @property
    def writes(self) -> bool:
        return self.creates or self.fills_cost


def ledger_plan(*, job: VideoJob, usage: VideoUsage | None) -> LedgerPlan:
    entry = UsageEntry.objects.filter(job_id=job.pk).only("pk", "cost", "is_byok").first()
    if usage is None:
        return LedgerPlan(entry, None, entry.cost if entry else None)
    if entry is None:
        return LedgerPlan(None, usage, usage.cost, creates=True)
    if entry.cost is None and usage.cost is not None:
        return LedgerPlan(entry, usage, usage.cost, fills_cost=True)
    if entry.cost is not None and usage.cost is not None and entry.cost != usage.cost:
        logger.warning(
            "videogen: job %s reported cost %s but the ledger holds %s; ledger kept",
            job.public_id,
            usage.cost,
            entry.cost,
        )
    return LedgerPlan(entry, usage, entry.cost)


def ledger_write(*, job: VideoJob, plan: LedgerPlan, source: str, now: datetime) -> None:
    """Carry out ``plan`` for ``job`` (its row locked by the caller); the job's cached ledger
    row is kept current, so ``job.cost`` reads what was written."""
    if plan.creates:
        if plan.usage.cost is not None and plan.usage.cost < 0:
            # The table's check constraint would refuse it and abort the caller's transaction.
            logger.warning(
                "videogen: job %s reported a negative cost %s; no ledger entry written",
                job.public_id,
                plan.usage.cost,
            )
            return
        entry = UsageEntry(
            job=job,
            workspace_id=job.workspace_id,
            model=job.model,
            cost=plan.usage.cost,
            is_byok=plan.usage.is_byok,
            duration=job.duration,
            resolution=job.resolution,
            completed_at=job.finished_at or now,
        )
        if insert_unless_taken(entry, unique_field="job"):
            job.usage_entry = entry
        else:
            # Unreachable while the job row is locked; kept so a second row can never exist.
            logger.warning("videogen: ledger entry for job %s already existed", job.public_id)
        return
    if plan.fills_cost:
        updated = UsageEntry.objects.filter(pk=plan.entry.pk, cost__isnull=True).update(
            cost=plan.cost, updated_at=now
        )
        if updated:
            plan.entry.cost = plan.cost
            job.usage_entry = plan.entry
            JobEvent.objects.create(
                job=job,
                from_status=job.status,
                to_status=job.status,
                source=source,
                payload={"cost": plan.cost},
                message="cost reported after completion; ledger entry updated",
            )
