import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from videogen import hygiene
from videogen.management.arguments import clean_argument
from videogen.management.provider import require_provider
from videogen.models import EventSource, VideoJob, Workspace
from videogen.services.jobs.reconcile import job_poll_now
from videogen.services.jobs.submission import job_create, job_submit
from videogen.services.money.budgets import BudgetExceededError
from videogen.services.money.display import money


class Command(BaseCommand):
    help = (
        "Create and submit a video job from the shell. Fields not given as options can be "
        "passed as JSON with --json '{\"seed\": 7}'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--model", required=True)
        parser.add_argument("--prompt", default="")
        parser.add_argument("--duration", type=int)
        parser.add_argument("--resolution")
        parser.add_argument("--aspect-ratio")
        parser.add_argument("--json", default="{}", help="More request fields as a JSON object.")
        parser.add_argument(
            "--wait", action="store_true", help="Show progress until the job is terminal."
        )
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to --wait.")

    def handle(self, *args, **opts):
        # The request's own fields are checked by job_create (the same rule, every field).
        for option in ("workspace", "model", "resolution", "aspect_ratio"):
            if opts[option] is not None:
                clean_argument(opts[option], option=f"--{option.replace('_', '-')}")
        clean_argument(opts["prompt"], option="--prompt", multiline=True)
        try:
            workspace = Workspace.objects.get(slug=opts["workspace"])
        except Workspace.DoesNotExist:
            known = ", ".join(Workspace.objects.values_list("slug", flat=True)[:50]) or "none"
            raise CommandError(f"No workspace {opts['workspace']!r} (known: {known}).") from None
        try:
            # Request bodies carry no money: numbers stay floats, as the provider reads them.
            extra = hygiene.loads(
                clean_argument(opts["json"], option="--json", multiline=True), parse_float=float
            )
        except hygiene.HostileInput as err:
            raise CommandError(f"--json: {err.message} ({err.code})") from None
        except ValueError as err:
            raise CommandError(f"--json is not valid JSON: {err}") from None
        if not isinstance(extra, dict):
            raise CommandError("--json must be a JSON object.")
        data = {"model": opts["model"], **extra}
        for option, name in [
            ("prompt", "prompt"),
            ("duration", "duration"),
            ("resolution", "resolution"),
            ("aspect_ratio", "aspect_ratio"),
        ]:
            if opts[option] not in (None, ""):
                data[name] = opts[option]
        # Before anything is stored: a command pointed at the wrong provider fails now.
        require_provider()
        try:
            job = job_create(workspace=workspace, data=data, source=EventSource.COMMAND)
        except ValidationError as err:
            lines = [f"  {field}: {' '.join(msgs)}" for field, msgs in err.message_dict.items()]
            raise CommandError("The request is not valid:\n" + "\n".join(lines)) from err
        except BudgetExceededError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(f"Job {job.public_id} queued.")
        if not opts["wait"]:
            return
        self._wait(job, opts["timeout"])

    def _wait(self, job: VideoJob, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == "queued":
                job_submit(job_id=job.pk)  # no worker needed; the claim makes it once only
                job.refresh_from_db()
            if job.status != last:
                self.stdout.write(f"  {job.status}")
                last = job.status
            if job.is_terminal:
                break
            report = job_poll_now(job_id=job.pk)
            for sample in report.error_samples:
                self.stderr.write(self.style.WARNING(f"  poll failed: {sample}"))
            time.sleep(1)
        else:
            raise CommandError(f"Job {job.public_id} not finished after {timeout:.0f}s.")
        if job.status == "completed":
            urls = ", ".join(job.unsigned_urls) or "none"
            self.stdout.write(
                self.style.SUCCESS(f"Completed; cost {money(job.cost)}; outputs: {urls}")
            )
        else:
            raise CommandError(f"Job ended {job.status}: {job.error or job.failure_reason}")
