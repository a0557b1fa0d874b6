"""Signals videogen sends (always on transaction commit)."""

from django.dispatch import Signal

# sender=VideoJob, job=<VideoJob>, from_status=str, to_status=str, source=str
job_status_changed = Signal()
# sender=VideoJob, job=<VideoJob>
job_completed = Signal()
# sender=VideoJob, job=<VideoJob>
job_failed = Signal()
# sender=Workspace, workspace=<Workspace>, threshold=Decimal("0.8") or Decimal("1.0"),
# spent=Decimal (month-to-date ledger), committed=Decimal (spent + in flight + this job),
# budget=Decimal, blocked=bool (True when the job was refused; sent at once, not on commit)
budget_exceeded = Signal()
