"""Money truth under a lossy network: provider jobs per site job, recoveries, and the ledger.

Target (issue #11): under each lossy run, provider jobs never exceed site jobs, every provider
job is bound to exactly one site job, every job ends terminal or in *outcome unknown* with a
reason, the workspace's ledger equals what the provider billed, and
``videogen_audit_ledger --against-provider`` exits 0. Physical limit: none (a correctness run;
its seconds are how long the jobs took to settle).

The app runs as in production: gunicorn (gthread, 2 workers x 4 threads) serving the REST API
and the webhook, one qcluster (4 workers) submitting the jobs and running the reconcile
task, PostgreSQL. The simulator runs in this process, so that the script can read the
provider's own records (every job it created, bound or not, and what it billed); its faults
are applied *after* it processed each request, on every request, until every job is settled.
Each run creates ``--jobs`` jobs through the REST API in a new workspace, enqueues a reconcile
window every 2 s until no job is in flight and every provider job that will call back has,
then counts and runs the audit (faults off). The site's and qcluster's logs are kept (their
directory is printed) when a run misses its target. The database is created and dropped by
the run (see ``--database``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_money \\
        .venv/bin/python bench/money_truth.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench.harness import ROOT, cli, database
from bench.harness.cli import log
from bench.harness.host import Host
from bench.harness.processes import Qcluster, Site, django_env, free_port, manage
from bench.harness.writer import Section, Table

COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_money "
    ".venv/bin/python bench/money_truth.py"
)
SECRET = "whsec-bench-money"
WEBHOOK_PATH = "/videogen/webhooks/openrouter/"
READ_TIMEOUT = 1.0
SETTLE_TIMEOUT = 240.0
TERMINAL = {"completed", "failed", "cancelled", "expired"}
# The run (resets and cut bodies after processing), every fault kind after
# processing, and answers later than READ_TIMEOUT on every request.
RUNS = [
    (
        "resets 25 % + cut bodies 25 %, after processing",
        {"reset_rate": 0.25, "malformed_rate": 0.25, "fault_after_processing": True},
    ),
    (
        "every fault kind 10 % each (reset, cut body, gateway 5xx, 429), after processing",
        {
            "reset_rate": 0.1,
            "malformed_rate": 0.1,
            "server_error_rate": 0.1,
            "rate_limit_rate": 0.1,
            "fault_after_processing": True,
        },
    ),
    (
        f"every answer {READ_TIMEOUT * 2:.0f} s late (read timeout {READ_TIMEOUT:.0f} s)",
        {"latency_seconds": READ_TIMEOUT * 2, "latency_after_processing": True},
    ),
]
NO_FAULTS = {
    "reset_rate": 0.0,
    "malformed_rate": 0.0,
    "server_error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "latency_seconds": 0.0,
    "fault_after_processing": False,
    "latency_after_processing": False,
}
OVERRIDES = {
    "READ_TIMEOUT": READ_TIMEOUT,
    "POLL_INITIAL_DELAY_SECONDS": 0.5,
    "POLL_MAX_DELAY_SECONDS": 2,
    "RECONCILE_WINDOW_SECONDS": 10,
    "RECONCILE_IDLE_SECONDS": 0.2,
    "SUBMIT_MAX_ATTEMPTS": 20,
    "STORE_OUTPUTS": False,
}


@dataclass
class RunResult:
    name: str
    site_jobs: int
    provider_jobs: int
    posts: int
    by_status: Counter
    recovered_by_callback: int
    unknown_without_reason: int
    unbound_provider_jobs: int
    ledger: Decimal
    billed: Decimal
    audit_exit: int
    seconds: float
    settled: bool
    failures: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Fill ``failures`` with every part of the target this run missed."""
        unsettled = sum(n for s, n in self.by_status.items() if s not in TERMINAL | {"unknown"})
        for failed, text in (
            (self.provider_jobs > self.site_jobs, "more provider jobs than site jobs"),
            (self.unbound_provider_jobs, f"{self.unbound_provider_jobs} provider jobs unbound"),
            (unsettled, f"{unsettled} jobs neither terminal nor unknown"),
            (self.unknown_without_reason, f"{self.unknown_without_reason} unknown, no reason"),
            (self.ledger != self.billed, f"ledger {self.ledger} ≠ billed {self.billed}"),
            (self.audit_exit, f"audit exit {self.audit_exit}"),
            (not self.settled, f"not settled within {SETTLE_TIMEOUT:.0f} s"),
        ):
            if failed:
                self.failures.append(text)

    @property
    def passed(self) -> bool:
        return not self.failures


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__, postgres=True)
    p.add_argument("--jobs", type=int, default=100, help="jobs per run (default 100)")
    args = p.parse_args(argv)
    url = database.database_url("money", args.database)
    sim_port = free_port()
    # Shared by this process, the site, the qcluster and the audit command.
    os.environ.update(
        {
            "OPENROUTER_BASE_URL": f"http://127.0.0.1:{sim_port}/api/v1",
            "VIDEOGEN_WEBHOOK_SECRETS": SECRET,
            "VIDEOGEN_LOG_LEVEL": "WARNING",
            "Q_CLUSTER_NAME": f"bench-money-{uuid.uuid4().hex[:8]}",
            "Q_WORKERS": "4",
        }
    )
    os.environ.pop("OPENROUTER_API_KEY", None)
    database.set_videogen_overrides(**OVERRIDES)
    args.logs = Path(tempfile.mkdtemp(prefix="videogen-bench-money-"))
    with cli.sigterm_as_exit(), database.fresh_database(url, keep=args.keep_db):
        database.setup_django(url)
        host = Host.collect(packages=["gunicorn", "django-q2"], database=True)
        log(host.line())
        results = run_all(sim_port, args)
        host.finish()
    cli.publish(section(host, results, args.jobs), args)
    if all(r.passed for r in results):
        shutil.rmtree(args.logs)
        return 0
    log(f"the site's and qcluster's logs of every run: {args.logs}")
    return 1


def run_all(sim_port: int, args) -> list[RunResult]:
    from django_q.models import Schedule

    from videogen.services.catalog import catalog_sync
    from videogen.simulator import SimulatorConfig, SimulatorServer

    Schedule.objects.all().delete()  # this script drives the sweeps itself
    config = SimulatorConfig(
        port=sim_port,
        pending_seconds=0.5,
        processing_seconds=1.5,
        webhook_secret=SECRET,
        webhook_backoff_seconds=0.5,
        webhook_backoff_max_seconds=4,
        seed=20261202,
    )
    with SimulatorServer(config) as simulator:
        catalog_sync()
        return [run(simulator, name, faults, args) for name, faults in RUNS]


def run(simulator, name: str, faults: dict, args) -> RunResult:
    import requests
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from tests.factories import make_member, make_user, make_workspace
    from videogen.models import Role
    from videogen.simulator.app import EP_CREATE

    log(f"run: {name}")
    simulator.state.clear()
    simulator.stats.reset()
    simulator.config.apply_patch(NO_FAULTS)
    workspace = make_workspace(f"money-{uuid.uuid4().hex[:6]}")
    token = Token.objects.create(user=make_member(workspace, make_user(), Role.MEMBER)).key
    connection.close()
    site = Site(workers=2, worker_class="gthread", threads=4, ready_path="/admin/login/")
    callback = {"VIDEOGEN_CALLBACK_URL": f"{site.origin}{WEBHOOK_PATH}"}
    site.env.update(callback)
    with site, Qcluster(env=django_env(**callback)) as cluster:
        simulator.config.apply_patch(faults)
        started = time.monotonic()
        with requests.Session() as api:
            api.headers["Authorization"] = f"Token {token}"
            for i in range(args.jobs):
                body = {
                    "workspace": workspace.slug,
                    "model": "google/veo-3.1",
                    "prompt": f"Money truth {i}: a lighthouse in a storm",
                    "duration": (4, 6, 8)[i % 3],
                }
                api.post(
                    f"{site.origin}/videogen/api/jobs/", json=body, timeout=30
                ).raise_for_status()
        settled = settle(simulator, workspace)
        seconds = time.monotonic() - started
        simulator.config.apply_patch(NO_FAULTS)
        (args.logs / f"{workspace.slug}-site.log").write_text(site.log_tail(10**9))
        (args.logs / f"{workspace.slug}-qcluster.log").write_text(cluster.log_tail(10**9))
    result = measure(simulator, workspace, name, seconds, settled)
    result.posts = simulator.stats.snapshot()["requests"].get(EP_CREATE, 0)
    result.check()
    log(
        f"  {result.site_jobs} site jobs, {result.provider_jobs} provider jobs, {result.posts} "
        f"POSTs, {dict(result.by_status)}, {result.recovered_by_callback} recovered by "
        f"callback, ledger {result.ledger} / billed {result.billed}, audit exit "
        f"{result.audit_exit}, {seconds:.0f} s: "
        + ("target met" if result.passed else f"target NOT met: {'; '.join(result.failures)}")
    )
    return result


def settle(simulator, workspace) -> bool:
    """Enqueue reconcile windows until no job is in flight and every provider job that will
    call back has (the webhooks' retries included); False on the timeout."""
    from django.db.models import Q
    from django_q.tasks import async_task

    from videogen.models import JobStatus, VideoJob

    busy = [JobStatus.QUEUED, JobStatus.SUBMITTING, *JobStatus.in_flight()]
    jobs = VideoJob.objects.filter(workspace=workspace)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    windows = 0
    while time.monotonic() < deadline:
        async_task("videogen.tasks.reconcile", task_name=f"bench-money-reconcile-{windows}")
        windows += 1
        time.sleep(2)
        bound = set(jobs.exclude(provider_job_id=None).values_list("provider_job_id", flat=True))
        waiting_cost = (
            jobs.filter(status=JobStatus.COMPLETED)
            .filter(Q(usage_entry=None) | Q(usage_entry__cost=None))
            .exists()
        )
        in_flight = jobs.filter(status__in=busy).exists()
        if not in_flight and not waiting_cost and set(simulator.state.ids()) <= bound:
            return True
    left = jobs.exclude(status__in=JobStatus.terminal()).values_list(
        "public_id", "status", "failure_reason", "last_error", "next_poll_at"
    )
    log(f"  settle: timed out after {SETTLE_TIMEOUT:.0f} s: {list(left)!r}")
    return False


def measure(simulator, workspace, name: str, seconds: float, settled: bool) -> RunResult:
    """The site's jobs and ledger against the provider's records, and the audit's exit."""
    from django.db.models import Sum

    from videogen.models import JobEvent, JobStatus, UsageEntry, VideoJob

    jobs = VideoJob.objects.filter(workspace=workspace)
    provider = set(simulator.state.ids())
    bound = set(jobs.exclude(provider_job_id=None).values_list("provider_job_id", flat=True))
    views = (simulator.state.view(j, count_poll=False) for j in provider)
    billed = sum(
        (
            simulator.state.view_generation(v.generation_id).cost
            for v in views
            if v.status == "completed"
        ),
        Decimal(0),
    )
    audit = subprocess.run(
        manage("videogen_audit_ledger", "--against-provider", "--workspace", workspace.slug),
        env=django_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if audit.returncode:
        log(audit.stdout[-2000:] + audit.stderr[-2000:])
    unknown = jobs.filter(status=JobStatus.UNKNOWN)
    return RunResult(
        name=name,
        site_jobs=jobs.count(),
        provider_jobs=len(provider),
        posts=0,
        by_status=Counter(jobs.values_list("status", flat=True)),
        recovered_by_callback=JobEvent.objects.filter(
            job__workspace=workspace, message__startswith="bound to provider job"
        ).count(),
        unknown_without_reason=unknown.filter(failure_reason="").count(),
        unbound_provider_jobs=len(provider - bound),
        ledger=UsageEntry.objects.filter(workspace=workspace).aggregate(t=Sum("cost"))["t"]
        or Decimal(0),
        billed=billed,
        audit_exit=audit.returncode,
        seconds=seconds,
        settled=settled,
    )


def section(host: Host, results: list[RunResult], jobs: int) -> Section:
    verdicts = [
        f"- {r.name}: {r.provider_jobs} provider jobs for {r.site_jobs} site jobs, "
        f"{r.recovered_by_callback} recovered by callback, {r.by_status.get('unknown', 0)} left "
        f"for staff, ledger {r.ledger:.2f} = billed {r.billed:.2f} USD: target "
        + ("**met**." if r.passed else f"**NOT met** ({'; '.join(r.failures)}).")
        for r in results
    ]
    table = Table.of(
        results,
        [
            ("run", "l", lambda r: r.name),
            ("site jobs", "r", lambda r: r.site_jobs),
            ("provider jobs", "r", lambda r: f"**{r.provider_jobs}**"),
            ("POSTs", "r", lambda r: r.posts),
            ("completed", "r", lambda r: r.by_status.get("completed", 0)),
            ("failed", "r", lambda r: r.by_status.get("failed", 0)),
            ("unknown (left for staff)", "r", lambda r: r.by_status.get("unknown", 0)),
            ("recovered by callback", "r", lambda r: r.recovered_by_callback),
            ("ledger (USD)", "r", lambda r: f"{r.ledger:.2f}"),
            ("provider billed (USD)", "r", lambda r: f"{r.billed:.2f}"),
            ("audit", "l", lambda r: f"exit {r.audit_exit}"),
            ("seconds", "r", lambda r: f"{r.seconds:.0f}"),
        ],
    )
    return Section(
        title="Money truth under a lossy network",
        script="bench/money_truth.py",
        command=cli.reproduce_command(COMMAND),
        host=host,
        summary=[
            "Target (issue #11): under each lossy run, provider jobs never exceed site jobs, "
            "every provider job is bound to exactly one site job, every job ends terminal or "
            "in *outcome unknown* with a reason, the unknown ones the provider calls back "
            "complete with their cost untouched by staff, and the ledger equals what the "
            "provider billed (`videogen_audit_ledger --against-provider` exits 0). Physical "
            "limit: none (a correctness run).",
            "\n".join(verdicts),
        ],
        body=[
            f"Settings: {jobs} jobs per run through the REST API; gunicorn gthread 2 workers × "
            "4 threads, one qcluster with 4 workers, a reconcile window enqueued every 2 s; "
            + ", ".join(f"`{k}` = {v}" for k, v in OVERRIDES.items())
            + "; the simulator's jobs 0.5 s pending + 1.5 s in progress, signed webhooks "
            "retried from 0.5 s to 4 s, its faults applied *after* "
            "it processed each request, on every request (submissions and polls) until every "
            "job is settled; the audit runs without them.",
            table,
            "*Recovered by callback*: jobs left in *outcome unknown* by a lost answer, then "
            "bound to their provider job by its signed webhook (the per-job callback reference) "
            "and completed with its cost. A job still *unknown* at the end is one whose "
            "callback never came: staff resolve it in the admin (*mark abandoned* or "
            "*resubmit*). How it is measured: bench/README.md, *money_truth.py*.",
        ],
        reproduce_note="≈ 2 minutes; drops and re-creates its database",
    )


if __name__ == "__main__":
    sys.exit(main())
