from django.core.management.base import BaseCommand, CommandError

from videogen.conf import videogen_settings
from videogen.management.arguments import bounded_integer
from videogen.services.jobs.outputs import outputs_prune

MAX_RETENTION_DAYS = 36_500


class Command(BaseCommand):
    help = "Delete stored outputs older than the retention (VIDEOGEN['OUTPUT_RETENTION_DAYS'])."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Override the retention, in days.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would go.")

    def handle(self, *args, days=None, dry_run=False, **options):
        days = days if days is not None else videogen_settings.OUTPUT_RETENTION_DAYS
        if days is None:
            raise CommandError(
                "No retention set: give --days or set VIDEOGEN['OUTPUT_RETENTION_DAYS']."
            )
        # A hundred years: beyond that no retention is meant, and the cutoff would overflow.
        bounded_integer(days, option="--days", low=0, high=MAX_RETENTION_DAYS)
        count = outputs_prune(older_than_days=days, dry_run=dry_run)
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(
            self.style.SUCCESS(f"{count} stored output(s) older than {days} days {verb}.")
        )
