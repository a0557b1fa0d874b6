from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from videogen.management.provider import require_provider
from videogen.models import VideoJob
from videogen.services.jobs.outputs import (
    outputs_fetch,
    outputs_fetch_missing,
    outputs_refetch_missing,
)


class Command(BaseCommand):
    help = (
        "Fetch outputs of completed jobs that are not stored yet: enqueue them (default), "
        "or download now with --now. Also retries outputs that had given up."
    )

    def add_arguments(self, parser):
        parser.add_argument("--job", help="Only this job (public id).")
        parser.add_argument(
            "--now", action="store_true", help="Download here instead of enqueueing."
        )

    def handle(self, *args, job=None, now=False, **options):
        if job:
            try:
                job_obj = VideoJob.objects.get(public_id=job)
            except (VideoJob.DoesNotExist, ValueError, ValidationError) as err:
                raise CommandError(f"No job with public id {job!r}.") from err
            require_provider()
            report = outputs_fetch(job_id=job_obj.pk)
            self.stdout.write(f"Job {job}: {report}.")
            if report.failed:
                raise CommandError(f"{report.failed} output(s) could not be fetched.")
            return
        if now:
            require_provider()
            report = outputs_fetch_missing()
            self.stdout.write(f"Outputs: {report}.")
            if report.failed:
                raise CommandError(f"{report.failed} output(s) could not be fetched.")
            return
        count = outputs_refetch_missing()
        self.stdout.write(self.style.SUCCESS(f"Enqueued the fetch of {count} job(s)."))
