"""The ledger's write: one row per job, the only place a job's cost is stored.

The lifecycle calls this inside the job's locked transaction when a terminal job reports
usage: ``ledger_entry_of`` reads the row (if any), ``ledger_plan_for`` decides and
``ledger_write`` writes it (``ledger_write_many`` for a batch of locked jobs), with
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, router

from videogen.models import JobEvent, UsageEntry, VideoJob
from videogen.provider.types import VideoUsage
from videogen.services import bulk
from videogen.services.rows import PreparedRead, insert_unless_taken

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


# What ``ledger_plan_for`` reads of an existing row.
LEDGER_PLAN_FIELDS = ("pk", "job_id", "cost", "is_byok")
# A job has at most one row (``job`` is one-to-one): no ordering needed. Compiled once (see
# services.rows).
_ENTRY_OF_JOB = PreparedRead(
    lambda job_id: UsageEntry.objects.filter(job_id=job_id).only(*LEDGER_PLAN_FIELDS).order_by(),
    by="job",
)


def ledger_entry_of(job: VideoJob) -> UsageEntry | None:
    """The job's ledger row as it is (the fields a plan needs), if any. Read from the
    database the job's lock is held on, so a read replica can never hand it a stale row."""
    return _ENTRY_OF_JOB.get(job.pk, using=router.db_for_write(UsageEntry))


def ledger_plan_for(
    *, job: VideoJob, usage: VideoUsage | None, entry: UsageEntry | None
) -> LedgerPlan:
    """Decide what ``usage`` does to the job's ledger row ``entry`` (read under its lock)."""
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


def _new_entry(job: VideoJob, plan: LedgerPlan, now: datetime) -> UsageEntry:
    return UsageEntry(
        job=job,
        workspace_id=job.workspace_id,
        model=job.model,
        cost=plan.usage.cost,
        is_byok=plan.usage.is_byok,
        duration=job.duration,
        resolution=job.resolution,
        completed_at=job.finished_at or now,
    )


def _cost_filled_event(job: VideoJob, plan: LedgerPlan, source: str) -> JobEvent:
    return JobEvent(
        job=job,
        from_status=job.status,
        to_status=job.status,
        source=source,
        payload={"cost": plan.cost},
        message="cost reported after completion; ledger entry updated",
    )


def _fill_cost(job: VideoJob, plan: LedgerPlan, now: datetime) -> bool:
    updated = UsageEntry.objects.filter(pk=plan.entry.pk, cost__isnull=True).update(
        cost=plan.cost, updated_at=now
    )
    if updated:
        plan.entry.cost = plan.cost
        job.usage_entry = plan.entry
    return bool(updated)


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
        entry = _new_entry(job, plan, now)
        if insert_unless_taken(entry, unique_field="job"):
            job.usage_entry = entry
        else:
            # Unreachable while the job row is locked; kept so a second row can never exist.
            logger.warning("videogen: ledger entry for job %s already existed", job.public_id)
        return
    if plan.fills_cost and _fill_cost(job, plan, now):
        _cost_filled_event(job, plan, source).save(force_insert=True)


def ledger_write_many(
    items: Sequence[tuple[VideoJob, LedgerPlan]], *, source: str, now: datetime
) -> dict[int, JobEvent]:
    """``ledger_write`` for many jobs whose rows the caller holds locked, in few statements.

    New rows go in one ``INSERT … ON CONFLICT DO NOTHING`` (no savepoint: a second row for
    a job cannot exist either way), and each job's cached row is the one written. A late
    cost is filled row by row (rare). Returns, by job id, the audit event of each cost
    filled, *unsaved*: the caller inserts it after the job's own transition event, in its
    one multi-row insert.
    """
    new = {job.pk: _new_entry(job, plan, now) for job, plan in items if plan.creates}
    if new and connection.vendor == "postgresql":
        bulk.insert(list(new.values()), unique_on="job")
    elif new:
        UsageEntry.objects.bulk_create(new.values(), ignore_conflicts=True)
        for job_id, pk in UsageEntry.objects.filter(job_id__in=new).values_list("job_id", "pk"):
            new[job_id].pk = pk
            new[job_id]._state.adding = False
    for job, _ in items:
        entry = new.get(job.pk)
        if entry is not None and entry.pk is not None:
            job.usage_entry = entry
        elif entry is not None:
            # Unreachable while the job rows are locked; no second row was written.
            logger.warning("videogen: ledger entry for job %s already existed", job.public_id)
    return {
        job.pk: _cost_filled_event(job, plan, source)
        for job, plan in items
        if plan.fills_cost and _fill_cost(job, plan, now)
    }
