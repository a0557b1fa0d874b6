from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from videogen.management.arguments import clean_argument
from videogen.models import Workspace
from videogen.services.money.audit import ledger_audit, ledger_audit_against_provider
from videogen.services.money.report_parameters import month_range


class Command(BaseCommand):
    help = (
        "Check the cost ledger: against the site's jobs (missing or extra entries, mismatched "
        "or missing costs), or with --against-provider against the provider's own record of "
        "every generation (GET /generation: total_cost). Exits non-zero on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", action="append", help="Workspace slug (repeatable).")
        parser.add_argument(
            "--against-provider",
            action="store_true",
            help="Compare every ledger row with what the provider says it billed.",
        )
        parser.add_argument(
            "--month",
            help="YYYY-MM in the site's time zone (with --against-provider; default: all).",
        )

    def handle(self, *args, workspace=None, against_provider=False, month=None, **options):
        ids = None
        for slug in workspace or ():
            clean_argument(slug, option="--workspace", max_length=100)
        if workspace:
            found = dict(Workspace.objects.filter(slug__in=workspace).values_list("slug", "pk"))
            unknown = sorted(set(workspace) - set(found))
            if unknown:
                raise CommandError(f"Unknown workspace(s): {', '.join(unknown)}.")
            ids = list(found.values())
        if month and not against_provider:
            raise CommandError("--month is only used with --against-provider.")
        if against_provider:
            start, end = self._month(month) if month else (None, None)
            audit = ledger_audit_against_provider(workspace_ids=ids, start=start, end=end)
            against = " against the provider's records"
        else:
            audit = ledger_audit(workspace_ids=ids)
            against = ""
        for problem in audit.problems:
            self.stdout.write(f"{problem.kind:12} job {problem.job}: {problem.detail}")
        for note in audit.notes:
            self.stdout.write(f"{'note':12} {note}")
        if not audit.ok:
            raise CommandError(
                f"Ledger audit{against} found {len(audit.problems)} problem(s) "
                f"in {audit.checked_entries} entries."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Ledger OK{against}: {audit.checked_entries} entries checked.")
        )

    @staticmethod
    def _month(value: str) -> tuple[datetime, datetime]:
        try:
            year, number = (int(part) for part in value.split("-"))
            first, last = month_range(year, number)
        except ValueError as err:
            raise CommandError(f"--month must be YYYY-MM, not {value!r}.") from err
        tz = timezone.get_default_timezone()
        return (
            timezone.make_aware(datetime.combine(first, time.min), tz),
            timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min), tz),
        )
