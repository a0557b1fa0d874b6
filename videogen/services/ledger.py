"""Auditing the ledger against the jobs it accounts for (``videogen_audit_ledger``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q

from videogen.models import JobStatus, UsageEntry, VideoJob


@dataclass(frozen=True)
class LedgerProblem:
    job: str  # the job's public id
    kind: str  # missing | extra | mismatch
    detail: str


@dataclass
class LedgerAudit:
    checked_entries: int = 0
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_audit(*, workspace_ids: Iterable[int] | None = None) -> LedgerAudit:
    """Missing entries (usage reported, no row), extra entries (a row for a job that never
    reported usage, is not finished, or belongs elsewhere) and cost mismatches."""
    jobs = VideoJob.objects.all()
    entries = UsageEntry.objects.select_related("job")
    if workspace_ids is not None:
        ids = list(workspace_ids)
        jobs = jobs.filter(workspace_id__in=ids)
        entries = entries.filter(Q(workspace_id__in=ids) | Q(job__workspace_id__in=ids))
    audit = LedgerAudit(checked_entries=entries.count())

    for job in jobs.filter(usage__isnull=False, usage_entry__isnull=True).only("public_id", "cost"):
        audit.problems.append(
            LedgerProblem(
                str(job.public_id), "missing", f"usage reported (cost {job.cost}), no ledger entry"
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
        usage = "missing" if job.usage is None else "reported"
        same = entry.workspace_id == job.workspace_id and entry.model == job.model
        audit.problems.append(
            LedgerProblem(
                str(job.public_id),
                "extra",
                f"entry for a job that is {job.status}, usage {usage}, "
                f"workspace/model {'match' if same else 'differ'}",
            )
        )
    mismatched = entries.filter(
        ~Q(cost=F("job__cost"))
        | Q(cost__isnull=True, job__cost__isnull=False)
        | Q(cost__isnull=False, job__cost__isnull=True)
    )
    for entry in mismatched:
        audit.problems.append(
            LedgerProblem(
                str(entry.job.public_id),
                "mismatch",
                f"ledger cost {_fmt(entry.cost)} but job cost {_fmt(entry.job.cost)}",
            )
        )
    return audit


def _fmt(value: Decimal | None) -> str:
    return "null" if value is None else str(value)
