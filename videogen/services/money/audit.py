"""Auditing the ledger (``videogen_audit_ledger``).

``ledger_audit`` checks the ledger against the site's own jobs: a usage reported without a
ledger row, a row for a job that never reported usage or is not finished or belongs
elsewhere, and rows still waiting for the provider's cost. (A job's cost is its ledger row's,
stored once, so the two cannot disagree.) ``ledger_audit_against_provider``
proves each row against the provider's own record of the generation (``GET /generation``,
``total_cost``): the provider's word is the truth for money.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q

from videogen.models import JobStatus, UsageEntry, VideoJob
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError, ProviderNotFound
from videogen.provider.types import GenerationRecord

# Generation lookups in flight at once during an audit against the provider.
AUDIT_CONCURRENCY = 8


@dataclass(frozen=True)
class LedgerProblem:
    job: str  # the job's public id
    kind: str  # missing | extra | mismatch (against the provider) | unpriced | unverifiable
    detail: str


@dataclass
class LedgerAudit:
    checked_entries: int = 0
    problems: list[LedgerProblem] = field(default_factory=list)
    # Jobs whose provider record cannot be looked up (no generation id: their submission's
    # outcome is unknown or was abandoned). Listed, not counted as problems.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _money(value: Decimal | None) -> str:
    return "no cost" if value is None else f"{value.normalize():f} USD"


def _decimal(value) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def ledger_audit(*, workspace_ids: Iterable[int] | None = None) -> LedgerAudit:
    """The ledger against the site's jobs (see the module docstring)."""
    jobs = VideoJob.objects.all()
    entries = UsageEntry.objects.select_related("job")
    if workspace_ids is not None:
        ids = list(workspace_ids)
        jobs = jobs.filter(workspace_id__in=ids)
        entries = entries.filter(Q(workspace_id__in=ids) | Q(job__workspace_id__in=ids))
    audit = LedgerAudit(checked_entries=entries.count())

    for job in jobs.filter(usage__isnull=False, usage_entry__isnull=True).only(
        "public_id", "usage"
    ):
        reported = (job.usage or {}).get("cost")
        audit.problems.append(
            LedgerProblem(
                str(job.public_id),
                "missing",
                f"the provider reported usage ({_money(_decimal(reported))}) but no ledger "
                "entry exists",
            )
        )
    extra = entries.filter(
        Q(job__usage__isnull=True)
        | ~Q(job__status__in=JobStatus.terminal())
        | ~Q(workspace_id=F("job__workspace_id"))
        | ~Q(model=F("job__model"))
    )
    for entry in extra:
        job = entry.job
        usage = "never reported usage" if job.usage is None else "reported usage"
        same = entry.workspace_id == job.workspace_id and entry.model == job.model
        audit.problems.append(
            LedgerProblem(
                str(job.public_id),
                "extra",
                f"ledger entry for a job that is {job.status} and {usage}"
                + ("" if same else "; its workspace or model differs from the job's"),
            )
        )
    for entry in entries.filter(cost__isnull=True):
        audit.problems.append(
            LedgerProblem(
                str(entry.job.public_id),
                "unpriced",
                f"completed {entry.completed_at:%Y-%m-%d %H:%M} UTC; the provider has not "
                "reported its cost yet (the sweep polls for it)",
            )
        )
    return audit


def ledger_audit_against_provider(
    *,
    workspace_ids: Iterable[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> LedgerAudit:
    """Every ledger row (and every completed job without one) whose completion falls in
    ``[start, end)``, compared with what the provider says it billed for the generation."""
    entries = UsageEntry.objects.all()
    orphans = VideoJob.objects.filter(status=JobStatus.COMPLETED, usage_entry__isnull=True)
    unverifiable = VideoJob.objects.filter(
        Q(status=JobStatus.UNKNOWN) | Q(locally_closed=True, provider_job_id__isnull=True)
    )
    if workspace_ids is not None:
        ids = list(workspace_ids)
        entries = entries.filter(workspace_id__in=ids)
        orphans = orphans.filter(workspace_id__in=ids)
        unverifiable = unverifiable.filter(workspace_id__in=ids)
    if start is not None:
        entries = entries.filter(completed_at__gte=start)
        orphans = orphans.filter(finished_at__gte=start)
        unverifiable = unverifiable.filter(created_at__gte=start)
    if end is not None:
        entries = entries.filter(completed_at__lt=end)
        orphans = orphans.filter(finished_at__lt=end)
        unverifiable = unverifiable.filter(created_at__lt=end)

    rows = [
        (str(public_id), generation_id, cost, True)
        for public_id, generation_id, cost in entries.values_list(
            "job__public_id", "job__generation_id", "cost"
        )
    ] + [
        (str(public_id), generation_id, None, False)
        for public_id, generation_id in orphans.values_list("public_id", "generation_id")
    ]
    audit = LedgerAudit(checked_entries=len(rows))
    with ThreadPoolExecutor(max_workers=AUDIT_CONCURRENCY) as pool:
        records = pool.map(_provider_record, [generation_id for _, generation_id, _, _ in rows])
        for (job, generation_id, cost, has_entry), record in zip(rows, records, strict=True):
            problem = _compare(job, generation_id, cost, has_entry, record)
            if problem is not None:
                audit.problems.append(problem)
    for public_id in unverifiable.values_list("public_id", flat=True):
        audit.notes.append(
            f"job {public_id}: no provider job to check (submission outcome unknown or abandoned)"
        )
    return audit


def _provider_record(generation_id: str) -> GenerationRecord | ProviderError | None:
    if not generation_id:
        return None
    try:
        return get_client().get_generation(generation_id)
    except ProviderError as err:  # reported per row; the audit goes on
        return err


def _compare(
    job: str,
    generation_id: str,
    cost: Decimal | None,
    has_entry: bool,
    record: GenerationRecord | ProviderError | None,
) -> LedgerProblem | None:
    if record is None:
        return LedgerProblem(job, "unverifiable", "no generation id stored for this job")
    if isinstance(record, ProviderNotFound):
        return LedgerProblem(job, "mismatch", f"the provider has no generation {generation_id!r}")
    if isinstance(record, ProviderError):
        return LedgerProblem(
            job, "unverifiable", f"the provider's record could not be read: {record}"
        )
    billed = record.total_cost
    if not has_entry:
        return LedgerProblem(
            job, "missing", f"the provider billed {_money(billed)}; no ledger entry exists"
        )
    if cost is None and billed is not None:
        return LedgerProblem(
            job, "unpriced", f"ledger has no cost yet; the provider billed {_money(billed)}"
        )
    if cost != billed:
        return LedgerProblem(
            job, "mismatch", f"ledger holds {_money(cost)}, the provider billed {_money(billed)}"
        )
    return None
