"""Signals videogen sends (on transaction commit; a refused job's after its rollback)."""

from django.dispatch import Signal

# sender=VideoJob, job=<VideoJob>, from_status=str, to_status=str, source=str
job_status_changed = Signal()
# sender=VideoJob, job=<VideoJob>
job_completed = Signal()
# sender=VideoJob, job=<VideoJob>
job_failed = Signal()
# sender=Workspace, workspace=<Workspace>, threshold=Decimal("0.8") or Decimal("1.0"),
# spent=Decimal (month-to-date ledger), committed=Decimal (spent + in flight + this job),
# budget=Decimal, blocked=bool (True when the job was refused: sent once the refused job's
# transaction has rolled back, outside it; thresholds crossed are sent on commit)
budget_exceeded = Signal()
