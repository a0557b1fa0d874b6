"""Jobs as CSV rows (the admin's *Export CSV*), streamed: any number of jobs, bounded memory.

Text a person typed (prompts, errors) is neutralised for spreadsheets: a cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run as a formula in Excel
or LibreOffice, so it gets a leading apostrophe (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from videogen.models import VideoJob

COLUMNS = (
    "id",
    "created_at",
    "workspace",
    "model",
    "source",
    "status",
    "needs_attention",
    "cost_usd",
    "estimated_cost_usd",
    "is_byok",
    "duration",
    "resolution",
    "aspect_ratio",
    "provider_job_id",
    "generation_id",
    "finished_at",
    "failure_reason",
    "error",
    "prompt",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file-like object whose ``write`` returns what it was given (one CSV line)."""

    def write(self, value: str) -> str:
        return value


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _money(value) -> str:
    return "" if value is None else f"{value:f}"


def _row(job: VideoJob) -> list[object]:
    entry_cost = job.cost
    return [
        job.public_id,
        job.created_at.isoformat(),
        job.workspace.slug,
        job.model,
        job.source,
        job.status,
        "yes" if job.needs_attention else "no",
        _money(entry_cost),
        _money(job.estimated_cost),
        "yes" if job.is_byok else "no",
        "" if job.duration is None else job.duration,
        job.resolution,
        job.aspect_ratio,
        job.provider_job_id or "",
        job.generation_id,
        job.finished_at.isoformat() if job.finished_at else "",
        job.failure_reason,
        _text(job.error),
        _text(job.prompt),
    ]


def jobs_csv_lines(jobs: QuerySet[VideoJob]) -> Iterator[str]:
    """The header, then one CSV line per job (read from the database in chunks)."""
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow(COLUMNS)
    rows = jobs.select_related("workspace", "usage_entry").order_by("-created_at", "-pk")
    for job in rows.iterator(chunk_size=2000):
        yield writer.writerow(_row(job))
