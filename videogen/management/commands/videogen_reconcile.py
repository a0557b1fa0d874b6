import sys

from django.core.management.base import BaseCommand

from videogen import hygiene
from videogen.management.arguments import bounded_integer
from videogen.management.provider import require_provider
from videogen.services.jobs.reconcile import reconcile_sweep


class Command(BaseCommand):
    help = "Run one reconcile sweep now: poll due jobs, recover lost or stuck ones, summarise."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, help="Most jobs to poll (default: batch size).")
        parser.add_argument("--concurrency", type=int, help="Polls in flight at once.")

    def handle(self, *args, limit=None, concurrency=None, verbosity=1, **options):
        if limit is not None:
            bounded_integer(limit, option="--limit", low=1, high=hygiene.MAX_INT)
        if concurrency is not None:
            bounded_integer(concurrency, option="--concurrency", low=1, high=hygiene.MAX_INT)
        require_provider()  # not a sweep of poll errors when the provider is out of reach
        show = verbosity > 0 and sys.stdout.isatty()

        def progress(done: int, total: int) -> None:
            # ``total`` is what the sweep has claimed so far: it claims in parts as it polls.
            width = 30
            filled = width * done // total
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending=""
            )

        report = reconcile_sweep(
            limit=limit, concurrency=concurrency, progress=progress if show else None
        )
        if show and report.polled:
            self.stdout.write("")  # end the progress line
        self.stdout.write(self.style.SUCCESS(f"Sweep done: {report}."))
        for sample in report.error_samples:
            self.stdout.write(self.style.WARNING(f"  {sample}"))
