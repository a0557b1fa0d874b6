from django.core.management.base import BaseCommand, CommandError

from videogen.services.webhooks.retention import webhook_deliveries_prune


class Command(BaseCommand):
    help = (
        "Delete webhook deliveries older than the retention (VIDEOGEN['WEBHOOK_RETENTION_DAYS']; "
        "refused ones after VIDEOGEN['WEBHOOK_REFUSED_RETENTION_DAYS'])."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, help="Override the retention, in days (refused ones included)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would go.")

    def handle(self, *args, days=None, dry_run=False, **options):
        if days is not None and days < 0:
            raise CommandError("--days must not be negative.")
        report = webhook_deliveries_prune(days=days, dry_run=dry_run)
        kept = [
            f"{what} are kept (VIDEOGEN['{key}'] is None)."
            for what, key, value in (
                ("Accepted deliveries", "WEBHOOK_RETENTION_DAYS", report.kept_days),
                ("Refused deliveries", "WEBHOOK_REFUSED_RETENTION_DAYS", report.refused_days),
            )
            if value is None
        ]
        for line in kept:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{report}."))
