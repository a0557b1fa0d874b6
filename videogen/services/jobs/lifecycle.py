"""The one function that changes a job's status: ``job_transition``.

Every writer (API, submission, poller, webhook, admin, sweeps) calls it. It locks the job
row (``select_for_update``; a no-op on SQLite, where the version compare-and-set below does
the same work), decides whether the move is allowed (rank only moves forward, terminal is
final, ``submitting → queued`` only as an explicit retry), writes the job with a
compare-and-set on ``version``, records a ``JobEvent``, writes the ledger entry once when
usage arrives, and sends signals on commit. Two writers racing on one job end with one
transition, one event and one ledger row.

The provider's word wins for money: a terminal status the *site* decided on its own (past
the deadline, not found, abandoned by staff: ``locally_closed``) still gives way to the
provider's own final status, once, so a job the provider completes and bills after the site
gave up gets its ledger row and its outputs, and its history shows both. A completed job
whose cost has not arrived keeps a ``next_poll_at`` so the reconciler polls until it does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, router, transaction
from django.utils import timezone

from videogen import signals
from videogen.conf import videogen_settings
from videogen.models import EventSource, JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot, VideoStatus, VideoUsage
from videogen.services import bulk
from videogen.services.money.ledger import (
    LEDGER_PLAN_FIELDS,
    LedgerPlan,
    ledger_entry_of,
    ledger_plan_for,
    ledger_write,
    ledger_write_many,
)
from videogen.services.rows import PreparedRead, update_row

logger = logging.getLogger(__name__)

_CAS_ATTEMPTS = 20

_FROM_PROVIDER = {
    VideoStatus.PENDING: JobStatus.PENDING,
    VideoStatus.IN_PROGRESS: JobStatus.IN_PROGRESS,
    VideoStatus.COMPLETED: JobStatus.COMPLETED,
    VideoStatus.FAILED: JobStatus.FAILED,
    VideoStatus.CANCELLED: JobStatus.CANCELLED,
    VideoStatus.EXPIRED: JobStatus.EXPIRED,
}

# ``failure_reason`` of a completed job flagged because its cost never came; cleared when
# the cost does.
COST_NOT_REPORTED = "cost_not_reported"
_UNSUCCESSFUL = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})


class ConcurrentUpdateError(RuntimeError):
    """The compare-and-set kept losing; only possible under pathological contention."""


@dataclass(frozen=True)
class Transition:
    """What ``job_transition`` did."""

    job: VideoJob
    from_status: str
    to_status: str
    changed: bool
    ledger_written: bool = False
    cost_updated: bool = False
    rejected_reason: str = ""


def status_from_provider(status: VideoStatus) -> str | None:
    """Our status for a provider status; ``None`` for one we do not know (keep ours)."""
    return _FROM_PROVIDER.get(status)


# The job's locked read, its SQL compiled once (see services.rows).
_LOCKED_JOB = PreparedRead(
    lambda job_id: VideoJob.objects.select_for_update().filter(pk=job_id).order_by()
)


def _compare_and_set(job: VideoJob, updates: Mapping[str, Any], now: datetime) -> int:
    """Write ``updates`` to the job's row if its version is still the one read (1), else 0."""
    return update_row(
        VideoJob,
        job.pk,
        {**updates, "updated_at": now},
        expect={"version": job.version},
        increment=("version",),
    )


def _transition_allowed(
    job: VideoJob, target: str, *, allow_retry: bool, provider_final: bool
) -> tuple[bool, str]:
    current = job.status
    if current in JobStatus.terminal():
        if job.locally_closed and provider_final:
            return True, ""  # the provider's final word after the site gave up
        return False, f"{current} is final"
    if current == target:
        return False, "same status"
    if allow_retry and current == JobStatus.SUBMITTING and target == JobStatus.QUEUED:
        return True, ""
    if JobStatus.rank(target) <= JobStatus.rank(current):
        return False, f"{target} does not move forward from {current}"
    return True, ""


def _usage_json(usage: VideoUsage) -> dict[str, Any]:
    return {"cost": usage.cost, "is_byok": usage.is_byok}


def job_transition(
    *,
    job_id: int,
    to_status: str,
    source: str,
    fields: Mapping[str, Any] | None = None,
    fill_fields: Mapping[str, Any] | None = None,
    usage: VideoUsage | None = None,
    payload: Mapping[str, Any] | None = None,
    message: str = "",
    expect_from: Iterable[str] | None = None,
    allow_retry: bool = False,
    provider_final: bool = False,
    savepoint: bool = True,
) -> Transition:
    """Move job ``job_id`` to ``to_status`` if the lifecycle allows it.

    ``provider_final`` says ``to_status`` is the provider's own terminal status (a poll or a
    webhook): only that may replace a terminal status the site decided locally.
    ``fields`` are written only with an allowed transition. ``fill_fields`` are written
    whenever the job is not behind the observation (same status or moving to it), but
    only into empty fields once the job is terminal: a late webhook never rewrites history.
    ``usage`` writes the ledger entry (once) when the job is terminal; a cost that was null
    and now arrives updates the entry once, with an audit event. ``expect_from`` restricts
    the statuses the move may start from (a claim: ``queued → submitting``).
    ``savepoint=False`` joins the caller's transaction without a savepoint of its own: an
    error then leaves the caller's whole transaction to roll back (the webhook receiver,
    which writes its delivery row in the same transaction).
    """
    if source not in EventSource.values:
        raise ValueError(f"unknown event source {source!r}")
    if to_status not in JobStatus.values:
        raise ValueError(f"unknown job status {to_status!r}")
    expected = frozenset(expect_from) if expect_from is not None else None
    for _ in range(_CAS_ATTEMPTS):
        result = _try_transition(
            job_id=job_id,
            to_status=to_status,
            source=source,
            fields=fields or {},
            fill_fields=fill_fields or {},
            usage=usage,
            payload=dict(payload or {}),
            message=message,
            expected=expected,
            allow_retry=allow_retry,
            provider_final=provider_final,
            savepoint=savepoint,
        )
        if result is not None:
            return result
    raise ConcurrentUpdateError(f"job {job_id}: gave up after {_CAS_ATTEMPTS} attempts")


@dataclass
class _Decision:
    """What one observation does to one locked job, decided before anything is written."""

    current: str
    to_status: str
    allowed: bool
    reason: str
    updates: dict[str, Any]
    ledger: LedgerPlan | None
    message: str

    @property
    def final_status(self) -> str:
        return self.to_status if self.allowed else self.current


def _decide(
    job: VideoJob,
    *,
    to_status: str,
    fields: Mapping[str, Any],
    fill_fields: Mapping[str, Any],
    usage: VideoUsage | None,
    message: str,
    expected: frozenset[str] | None,
    allow_retry: bool,
    provider_final: bool,
    ledger_entry: Callable[[], UsageEntry | None],
    now: datetime,
) -> _Decision:
    """The lifecycle's rules for one job (its row locked): the one place they are written,
    for ``job_transition`` and the batch alike. ``ledger_entry()`` reads the job's ledger row
    (only asked for when usage may be written)."""
    current = job.status
    if expected is not None and current not in expected:
        allowed, reason = False, f"expected {sorted(expected)}, job is {current}"
    else:
        allowed, reason = _transition_allowed(
            job, to_status, allow_retry=allow_retry, provider_final=provider_final
        )
    # Only an allowed move or a fresh look at the same status may write anything.
    relevant = allowed or (to_status == current and (expected is None or current in expected))
    updates: dict[str, Any] = {}
    if allowed:
        if to_status in JobStatus.terminal():
            # Defaults of an end; a caller may keep polling (a job the site gave up on).
            updates.update(
                finished_at=now,
                next_poll_at=None,
                lease_until=None,
                needs_attention=False,
                locally_closed=False,
            )
        if current == JobStatus.UNKNOWN or current in JobStatus.terminal():
            # The doubt is resolved (or the provider overrules the site): its traces go.
            updates.update(failure_reason="", last_error="", needs_attention=False)
        if current in JobStatus.terminal():
            message = message or (
                f"the provider reported {to_status} after the site had given up "
                f"({job.failure_reason or 'closed locally'})"
            )
        updates.update(fields)
        updates.update(fill_fields)
        updates["status"] = to_status
    elif relevant:
        # Same status: write only what actually changes (most polls change nothing).
        terminal = current in JobStatus.terminal()
        for name, value in fill_fields.items():
            if name == "provider_response":
                continue
            old = getattr(job, name)
            if old != value and (not terminal or old in ("", None, [], {})):
                updates[name] = value
        if updates and "provider_response" in fill_fields:
            updates["provider_response"] = fill_fields["provider_response"]

    final_status = to_status if allowed else current
    ledger: LedgerPlan | None = None
    if relevant and (
        (usage is not None and final_status in JobStatus.terminal())
        or final_status == JobStatus.COMPLETED
    ):
        ledger = ledger_plan_for(job=job, usage=usage, entry=ledger_entry())
        if ledger.writes:
            # The provider's usage answer, kept as sent beside the ledger row it wrote.
            updates["usage"] = _usage_json(ledger.usage)
        if ledger.cost is not None and job.failure_reason == COST_NOT_REPORTED:
            # The cost staff were told about has come: nothing is left for them to do.
            updates.update(needs_attention=False, failure_reason="", last_error="")
    if final_status == JobStatus.COMPLETED and relevant:
        _schedule_cost_poll(job, updates, cost=ledger.cost, now=now, just_completed=allowed)
    return _Decision(current, to_status, allowed, reason, updates, ledger, message)


def _transition_of(job: VideoJob, decision: _Decision) -> Transition:
    ledger = decision.ledger
    return Transition(
        job,
        decision.current,
        decision.final_status,
        changed=decision.allowed,
        ledger_written=bool(ledger and ledger.creates),
        cost_updated=bool(ledger and ledger.fills_cost),
        rejected_reason=decision.reason,
    )


def _keep_written(job: VideoJob, updates: Mapping[str, Any], now: datetime) -> None:
    """Carry what was written into the locked instance (cheaper than re-reading it)."""
    for name, value in updates.items():
        setattr(job, name, value)
    job.version += 1
    job.updated_at = now


def _try_transition(
    *,
    job_id: int,
    to_status: str,
    source: str,
    fields: Mapping[str, Any],
    fill_fields: Mapping[str, Any],
    usage: VideoUsage | None,
    payload: dict[str, Any],
    message: str,
    expected: frozenset[str] | None,
    allow_retry: bool,
    provider_final: bool,
    savepoint: bool,
) -> Transition | None:
    """One compare-and-set attempt; ``None`` when another writer got there first."""
    now = timezone.now()
    with transaction.atomic(savepoint=savepoint):
        job = _LOCKED_JOB.get(job_id, using=router.db_for_write(VideoJob))
        if job is None:
            raise VideoJob.DoesNotExist("VideoJob matching query does not exist.")
        decision = _decide(
            job,
            to_status=to_status,
            fields=fields,
            fill_fields=fill_fields,
            usage=usage,
            message=message,
            expected=expected,
            allow_retry=allow_retry,
            provider_final=provider_final,
            ledger_entry=lambda: ledger_entry_of(job),
            now=now,
        )
        updates = decision.updates
        if not updates:
            return _transition_of(job, decision)

        written = _compare_and_set(job, updates, now)
        if written != 1:
            return None  # lost the race: re-read and decide again
        if any(hasattr(value, "resolve_expression") for value in updates.values()):
            job.refresh_from_db()  # an F() expression: read what the database computed
        else:
            _keep_written(job, updates, now)

        if decision.allowed:
            JobEvent.objects.create(
                job=job,
                from_status=decision.current,
                to_status=to_status,
                source=source,
                payload=payload,
                message=decision.message[:500],
            )
        ledger = decision.ledger
        if ledger is not None and ledger.writes:
            ledger_write(job=job, plan=ledger, source=source, now=now)
        if decision.allowed:
            _send_signals_on_commit(
                job=job, from_status=decision.current, to_status=to_status, source=source
            )
    return _transition_of(job, decision)


def _schedule_cost_poll(
    job: VideoJob, updates: dict[str, Any], *, cost, now, just_completed: bool
) -> None:
    """A completed job is polled until its cost is known, then no more."""
    provider_job_id = updates.get("provider_job_id", job.provider_job_id)
    if cost is None and provider_job_id and just_completed:
        delay = videogen_settings.POLL_INITIAL_DELAY_SECONDS
        updates["next_poll_at"] = now + timedelta(seconds=delay)
    elif cost is not None and (job.next_poll_at is not None or "next_poll_at" in updates):
        updates["next_poll_at"] = None


def _send_signals_on_commit(*, job: VideoJob, from_status: str, to_status: str, source: str):
    def send() -> None:
        signals.job_status_changed.send(
            sender=VideoJob, job=job, from_status=from_status, to_status=to_status, source=source
        )
        if to_status == JobStatus.COMPLETED:
            signals.job_completed.send(sender=VideoJob, job=job)
        elif to_status in _UNSUCCESSFUL:
            signals.job_failed.send(sender=VideoJob, job=job)

    transaction.on_commit(send, robust=True)


@dataclass(frozen=True)
class _Observation:
    """What one provider snapshot asks of ``job_transition`` (its arguments)."""

    target: str | None  # None: a status we do not know (keep the job's own)
    fields: dict[str, Any]
    fill_fields: dict[str, Any]
    usage: VideoUsage | None
    payload: dict[str, Any]
    provider_final: bool


def _observation(snapshot: VideoJobSnapshot, fields: Mapping[str, Any] | None) -> _Observation:
    target = status_from_provider(snapshot.status)
    mirror: dict[str, Any] = {"provider_status": snapshot.raw_status}
    if snapshot.generation_id:
        mirror["generation_id"] = snapshot.generation_id
    if snapshot.polling_url:
        mirror["polling_url"] = snapshot.polling_url
    if snapshot.unsigned_urls:
        mirror["unsigned_urls"] = list(snapshot.unsigned_urls)
    if snapshot.error:
        mirror["error"] = snapshot.error
    if snapshot.raw:
        mirror["provider_response"] = snapshot.raw
    fields = dict(fields or {})
    if target == JobStatus.FAILED:
        fields["failure_reason"] = "provider_failed"
    elif target in (JobStatus.CANCELLED, JobStatus.EXPIRED):
        fields["failure_reason"] = f"provider_{target}"
    return _Observation(
        target=target,
        fields=fields,
        fill_fields=mirror,
        usage=snapshot.usage,
        payload={"provider": snapshot.raw} if snapshot.raw else {},
        provider_final=target is not None and snapshot.is_terminal,
    )


def job_apply_snapshot(
    *,
    job_id: int,
    snapshot: VideoJobSnapshot,
    source: str,
    fields: Mapping[str, Any] | None = None,
    message: str = "",
    savepoint: bool = True,
) -> Transition:
    """Apply one observation of the provider job (a poll, a webhook, the POST's answer).

    ``fields`` are extra columns written only with the transition (the submitter's
    ``provider_job_id``, ``submitted_at``…); ``savepoint`` as for ``job_transition``.
    """
    seen = _observation(snapshot, fields)
    target = seen.target
    if target is None:
        # A status we do not know: keep ours, record what the provider said.
        target = VideoJob.objects.values_list("status", flat=True).get(pk=job_id)
    return job_transition(
        job_id=job_id,
        to_status=target,
        source=source,
        fields=seen.fields,
        fill_fields=seen.fill_fields,
        usage=seen.usage,
        payload=seen.payload,
        message=message,
        provider_final=seen.provider_final,
        savepoint=savepoint,
    )


# --- many observations at once ----------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """What ``jobs_apply_snapshots`` did: a ``Transition`` per job it applied, and the jobs
    it left for the caller to apply one by one with ``job_apply_snapshot``."""

    transitions: dict[int, Transition]
    left: list[int]


class _LostRace(Exception):
    """A compare-and-set matched fewer rows than it should: undo the batch."""


def jobs_apply_snapshots(
    observations: Sequence[tuple[int, VideoJobSnapshot]], *, source: str
) -> BatchResult:
    """``job_apply_snapshot`` for many jobs in one transaction, with the same rules.

    The rows are locked in id order (``select_for_update``), each job's move is decided by
    the same code as ``job_transition`` (``_decide``), then written set-wise: the jobs in
    one ``UPDATE … FROM jsonb_to_recordset(…)`` per set of changed columns on PostgreSQL
    (each row still compare-and-set on ``version``; elsewhere one UPDATE per row), every
    JobEvent in one multi-row INSERT, new ledger rows in one ``INSERT … ON CONFLICT DO
    NOTHING`` (``services.bulk`` on PostgreSQL, Django's ``bulk_create`` elsewhere). Signals are
    sent per job on commit, as by ``job_transition`` (wrap the call in
    ``queue.enqueue_batch()`` to send the work they enqueue in one batch).

    Left to the caller (``BatchResult.left``): a job named twice (its later observations),
    a job that no longer exists, and, if anything in the batch fails or loses a
    compare-and-set (possible on SQLite, which has no row locks), the whole batch, undone:
    one job's trouble never costs the others their answer.
    """
    if source not in EventSource.values:
        raise ValueError(f"unknown event source {source!r}")
    firsts: dict[int, VideoJobSnapshot] = {}
    left: list[int] = []
    for job_id, snapshot in observations:
        if job_id in firsts:
            left.append(job_id)
        else:
            firsts[job_id] = snapshot
    if not firsts:
        return BatchResult({}, left)
    try:
        with transaction.atomic():
            transitions = _apply_locked(firsts, source=source)
    except Exception:
        logger.warning(
            "videogen: batch apply of %d jobs undone; applying them one by one",
            len(firsts),
            exc_info=True,
        )
        return BatchResult({}, [*firsts, *left])
    left[:0] = [job_id for job_id in firsts if job_id not in transitions]
    return BatchResult(transitions, left)


def _apply_locked(
    snapshots: Mapping[int, VideoJobSnapshot], *, source: str
) -> dict[int, Transition]:
    now = timezone.now()
    jobs = list(VideoJob.objects.select_for_update().filter(pk__in=list(snapshots)).order_by("pk"))
    entries = {
        entry.job_id: entry
        for entry in UsageEntry.objects.filter(job_id__in=[job.pk for job in jobs]).only(
            *LEDGER_PLAN_FIELDS
        )
    }
    decided: list[tuple[VideoJob, _Decision, _Observation]] = []
    for job in jobs:
        seen = _observation(snapshots[job.pk], None)
        decision = _decide(
            job,
            to_status=seen.target if seen.target is not None else job.status,
            fields=seen.fields,
            fill_fields=seen.fill_fields,
            usage=seen.usage,
            message="",
            expected=None,
            allow_retry=False,
            provider_final=seen.provider_final,
            ledger_entry=lambda job=job: entries.get(job.pk),
            now=now,
        )
        decided.append((job, decision, seen))

    _write_jobs([(job, decision.updates) for job, decision, _ in decided if decision.updates], now)
    filled = ledger_write_many(
        [
            (job, decision.ledger)
            for job, decision, _ in decided
            if decision.updates and decision.ledger is not None and decision.ledger.writes
        ],
        source=source,
        now=now,
    )
    events: list[JobEvent] = []
    for job, decision, seen in decided:
        if decision.allowed:
            events.append(
                JobEvent(
                    job=job,
                    from_status=decision.current,
                    to_status=decision.to_status,
                    source=source,
                    payload=seen.payload,
                    message=decision.message[:500],
                )
            )
        if job.pk in filled:
            events.append(filled[job.pk])
    if connection.vendor == "postgresql":
        bulk.insert(events)
    else:
        JobEvent.objects.bulk_create(events)
    for job, decision, _ in decided:
        if decision.allowed:
            _send_signals_on_commit(
                job=job, from_status=decision.current, to_status=decision.to_status, source=source
            )
    return {job.pk: _transition_of(job, decision) for job, decision, _ in decided}


def _write_jobs(rows: list[tuple[VideoJob, dict[str, Any]]], now: datetime) -> None:
    """Write each job's updates with a compare-and-set on ``version``; ``_LostRace`` if any
    row did not match. Rows changing the same columns share one statement on PostgreSQL
    (``UPDATE … FROM jsonb_to_recordset(…)``)."""
    groups: dict[tuple[str, ...], list[tuple[VideoJob, dict[str, Any]]]] = {}
    for job, updates in rows:
        if any(hasattr(value, "resolve_expression") for value in updates.values()):
            raise _LostRace("expressions are written one job at a time")  # never from a snapshot
        groups.setdefault(tuple(sorted(updates)), []).append((job, updates))
    for columns, group in groups.items():
        if connection.vendor == "postgresql":
            written = bulk.update(
                VideoJob,
                [(job.pk, job.version, updates) for job, updates in group],
                columns,
                version="version",
                also={"updated_at": now},
            )
        else:
            written = sum(_compare_and_set(job, updates, now) for job, updates in group)
        if written != len(group):
            raise _LostRace(f"{written} of {len(group)} jobs written")
    for job, updates in rows:
        _keep_written(job, updates, now)
