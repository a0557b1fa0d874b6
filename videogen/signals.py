"""Signals videogen sends (always on transaction commit)."""

from django.dispatch import Signal

# sender=VideoJob, job=<VideoJob>, from_status=str, to_status=str, source=str
job_status_changed = Signal()
# sender=VideoJob, job=<VideoJob>
job_completed = Signal()
# sender=VideoJob, job=<VideoJob>
job_failed = Signal()
# sender=Workspace, workspace=<Workspace>, threshold=Decimal (0.8 or 1.0),
# spent=Decimal, budget=Decimal
budget_exceeded = Signal()
