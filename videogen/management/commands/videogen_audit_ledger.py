from django.core.management.base import BaseCommand, CommandError

from videogen.management.arguments import clean_argument
from videogen.models import Workspace
from videogen.services.ledger import ledger_audit


class Command(BaseCommand):
    help = (
        "Check the cost ledger against the jobs: missing or extra entries and mismatched "
        "costs. Exits non-zero when anything is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", action="append", help="Workspace slug (repeatable).")

    def handle(self, *args, workspace=None, **options):
        ids = None
        for slug in workspace or ():
            clean_argument(slug, option="--workspace", max_length=100)
        if workspace:
            found = dict(Workspace.objects.filter(slug__in=workspace).values_list("slug", "pk"))
            unknown = sorted(set(workspace) - set(found))
            if unknown:
                raise CommandError(f"Unknown workspace(s): {', '.join(unknown)}.")
            ids = list(found.values())
        audit = ledger_audit(workspace_ids=ids)
        for problem in audit.problems:
            self.stdout.write(f"{problem.kind:8} job {problem.job}: {problem.detail}")
        if not audit.ok:
            raise CommandError(
                f"Ledger audit found {len(audit.problems)} problem(s) "
                f"in {audit.checked_entries} entries."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Ledger OK: {audit.checked_entries} entries checked.")
        )
