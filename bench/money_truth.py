"""Money truth under a lossy network: provider jobs per site job, recoveries, and the ledger.

Runs the whole app as in production (gunicorn serving the API and the webhook, a qcluster
submitting jobs and sweeping, PostgreSQL) against the simulator with faults injected *after*
the provider processed each request, creates jobs through the REST API, waits until every job
is settled, and reports: provider jobs / site jobs, POSTs sent, jobs recovered by the
provider's callback, jobs left for staff, the ledger total against what the provider billed,
and the exit code of ``videogen_audit_ledger --against-provider``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_money \\
        .venv/bin/python bench/money_truth.py [--jobs 100] [--no-docs]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ROOT,
    add_output_arguments,
    argument_parser,
    bench_database_url,
    drop_database,
    free_port,
    load_average,
    log,
    machine_info,
    recreate_database,
    reproduce,
    setup_django,
    sigterm_as_exit,
    start_process,
    stop_process,
    write_docs_section,
)

HEADING = "## Money truth under a lossy network (bench/money_truth.py)"
SECRET = "whsec-bench-money"
READ_TIMEOUT = 1.0
SETTLE_TIMEOUT = 240.0
# The runs: the (resets and cut bodies after processing), every fault kind after
# processing, and read timeouts longer than READ_TIMEOUT on every request.
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


@dataclass
class RunResult:
    name: str
    site_jobs: int
    provider_jobs: int
    posts: int
    by_status: Counter
    recovered_by_callback: int
    left_for_staff: int
    unbound_provider_jobs: int
    ledger: Decimal
    billed: Decimal
    audit_exit: int
    seconds: float


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=100, help="jobs per run (default 100)")
    parser.add_argument("--logs", type=Path, help="keep the site's and qcluster's logs here")
    add_output_arguments(parser, keep_db=True)
    args = parser.parse_args()
    url, _ = bench_database_url(
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_money "
        ".venv/bin/python bench/money_truth.py"
    )
    with sigterm_as_exit():
        recreate_database(url)
        try:
            results, machine = _run_all(url, args.jobs, args.logs)
        finally:
            if not args.keep_db:
                drop_database(url)
    markdown = _markdown(results, machine, args.jobs)
    log(markdown)
    if not args.no_docs:
        write_docs_section(HEADING, markdown)
    return 0 if all(_passed(r) for r in results) else 1


def _passed(result: RunResult) -> bool:
    if result.by_status.keys() - {"completed", "failed", "cancelled", "expired", "unknown"}:
        return False  # a job not settled
    # Every provider job bound to its one site job (provider_job_id is unique), every cent
    # it billed in the ledger, and the provider's records agree.
    return (
        result.unbound_provider_jobs == 0
        and result.ledger == result.billed
        and result.audit_exit == 0
    )


def _run_all(url: str, jobs: int, logs: Path | None):
    os.environ["DJANGO_SECRET_KEY"] = os.environ.get("DJANGO_SECRET_KEY") or uuid.uuid4().hex * 2
    setup_django(url)
    from django_q.models import Schedule

    from videogen.simulator import SimulatorServer
    from videogen.simulator.config import SimulatorConfig

    Schedule.objects.all().delete()  # this script drives the sweeps itself
    machine = machine_info()
    config = SimulatorConfig(
        port=0,
        pending_seconds=0.5,
        processing_seconds=1.5,
        webhook_secret=SECRET,
        webhook_backoff_seconds=0.5,
        webhook_backoff_max_seconds=4,
        seed=20261202,
    )
    results = []
    with SimulatorServer(config) as simulator, tempfile.TemporaryDirectory() as tmp:
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            tmp = str(logs)
        from django.test import override_settings

        from videogen.services.catalog import catalog_sync

        with override_settings(
            VIDEOGEN={"API_KEY": simulator.api_key, "BASE_URL": simulator.base_url}
        ):
            catalog_sync()
        for name, faults in RUNS:
            results.append(_run(url, simulator, Path(tmp), name, faults, jobs))
    machine.load_after = load_average()
    return results, machine


def _run(url, simulator, tmp: Path, name: str, faults: dict, jobs: int) -> RunResult:
    import requests
    from django.db.models import Sum
    from django_q.tasks import async_task
    from rest_framework.authtoken.models import Token

    from tests.factories import make_member, make_user, make_workspace
    from videogen.models import JobEvent, JobStatus, Role, UsageEntry, VideoJob
    from videogen.simulator.app import EP_CREATE

    log(f"run: {name}")
    simulator.state.clear()
    simulator.stats.reset()
    simulator.config.apply_patch(NO_FAULTS)

    from django_q.conf import Conf

    port = free_port()
    queue = f"bench-money-{uuid.uuid4().hex[:8]}"
    # This process enqueues the reconcile windows: on the qcluster's queue, with its salt.
    Conf.CLUSTER_NAME = Conf.PREFIX = queue
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPENROUTER_BASE_URL": simulator.base_url,
        "VIDEOGEN_SIMULATOR_API_KEY": simulator.api_key,
        "VIDEOGEN_WEBHOOK_SECRETS": SECRET,
        "VIDEOGEN_CALLBACK_URL": f"http://127.0.0.1:{port}/videogen/webhooks/openrouter/",
        "VIDEOGEN_OVERRIDES": json.dumps(
            {
                "READ_TIMEOUT": READ_TIMEOUT,
                "POLL_INITIAL_DELAY_SECONDS": 0.5,
                "POLL_MAX_DELAY_SECONDS": 2,
                "RECONCILE_WINDOW_SECONDS": 10,
                "RECONCILE_IDLE_SECONDS": 0.2,
                "SUBMIT_MAX_ATTEMPTS": 20,
                "STORE_OUTPUTS": False,
            }
        ),
        "Q_CLUSTER_NAME": queue,
        "Q_WORKERS": "4",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("OPENROUTER_API_KEY", None)
    site_log = (tmp / f"site-{port}.log").open("wb")
    cluster_log = (tmp / f"qcluster-{port}.log").open("wb")
    site = cluster = None
    workspace = make_workspace(f"money-{uuid.uuid4().hex[:6]}")
    member = make_member(workspace, make_user(), Role.MEMBER)
    token = Token.objects.create(user=member).key
    try:
        site = start_process(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "project.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
            ],
            name="site",
            env=env,
            log_file=site_log,
            ready=lambda: requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=1).ok,
            log_tail=lambda: (tmp / f"site-{port}.log").read_text()[-3000:],
        )
        cluster = start_process(
            [sys.executable, "manage.py", "qcluster"],
            name="qcluster",
            env=env,
            log_file=cluster_log,
            ready=lambda: "running" in (tmp / f"qcluster-{port}.log").read_text(),
            log_tail=lambda: (tmp / f"qcluster-{port}.log").read_text()[-3000:],
        )
        simulator.config.apply_patch(faults)
        started = time.monotonic()
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        for i in range(jobs):
            response = api.post(
                f"http://127.0.0.1:{port}/videogen/api/jobs/",
                json={
                    "workspace": workspace.slug,
                    "model": "google/veo-3.1",
                    "prompt": f"Money truth {i}: a lighthouse in a storm",
                    "duration": (4, 6, 8)[i % 3],
                },
                timeout=30,
            )
            response.raise_for_status()
        _settle(simulator, async_task, workspace)
        seconds = time.monotonic() - started
        simulator.config.apply_patch(NO_FAULTS)
    finally:
        stop_process(cluster)
        stop_process(site)
        site_log.close()
        cluster_log.close()

    site_jobs = VideoJob.objects.filter(workspace=workspace)
    provider = set(simulator.state.ids())
    bound = set(site_jobs.exclude(provider_job_id=None).values_list("provider_job_id", flat=True))
    billed = sum(
        (
            simulator.state.view_generation(view.generation_id).cost
            for view in (simulator.state.view(j, count_poll=False) for j in provider)
            if view.status == "completed"
        ),
        Decimal(0),
    )
    audit = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "videogen_audit_ledger",
            "--against-provider",
            "--workspace",
            workspace.slug,
        ],
        env={**env, "OPENROUTER_BASE_URL": simulator.base_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if audit.returncode:
        log(audit.stdout[-2000:] + audit.stderr[-2000:])
    return RunResult(
        name=name,
        site_jobs=site_jobs.count(),
        provider_jobs=len(provider),
        posts=simulator.stats.snapshot()["requests"].get(EP_CREATE, 0),
        by_status=Counter(site_jobs.values_list("status", flat=True)),
        recovered_by_callback=JobEvent.objects.filter(
            job__workspace=workspace, message__startswith="bound to provider job"
        ).count(),
        left_for_staff=site_jobs.filter(status=JobStatus.UNKNOWN).count(),
        unbound_provider_jobs=len(provider - bound),
        ledger=UsageEntry.objects.filter(workspace=workspace).aggregate(t=Sum("cost"))["t"]
        or Decimal(0),
        billed=billed,
        audit_exit=audit.returncode,
        seconds=seconds,
    )


def _settle(simulator, async_task, workspace) -> None:
    """Keep reconcile windows going until no job is in flight and every provider job that
    will call back has (the webhooks' retries included)."""
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
        waiting_cost = jobs.filter(status=JobStatus.COMPLETED, cost=None).exists()
        in_flight = jobs.filter(status__in=busy).exists()
        if not in_flight and not waiting_cost and set(simulator.state.ids()) <= bound:
            return
    log(
        "settle: timed out: "
        + repr(
            list(
                jobs.exclude(status__in=JobStatus.terminal()).values_list(
                    "public_id", "status", "failure_reason", "last_error", "next_poll_at"
                )
            )
        )
    )


def _markdown(results: list[RunResult], machine, jobs: int) -> str:
    lines = [
        HEADING,
        "",
        "Target (issue #11): under the lossy network runs, provider jobs = site jobs, every "
        "job ends terminal or in *outcome unknown* with a reason, the unknown ones the "
        "provider calls back complete with their cost untouched by staff, and the ledger "
        "equals what the provider billed (`videogen_audit_ledger --against-provider` exits 0).",
        "",
        f"How: {jobs} jobs per run created through the REST API on gunicorn (2 workers x 4 "
        "threads), one qcluster (4 workers) submitting them and running the reconcile task, "
        "PostgreSQL, the simulator (jobs 0.5 s pending + 1.5 s in progress, signed webhooks "
        "with retries) with its faults applied *after* it processed each request. The faults "
        "stay on for every request (submissions and polls) until every job is settled; only "
        "the audit runs without them.",
        "",
        "| run | site jobs | provider jobs | POSTs | completed | failed | unknown (left for "
        "staff) | recovered by callback | ledger | provider billed | audit | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.site_jobs} | **{r.provider_jobs}** | {r.posts} | "
            f"{r.by_status.get('completed', 0)} | {r.by_status.get('failed', 0)} | "
            f"{r.left_for_staff} | {r.recovered_by_callback} | {r.ledger:.2f} | "
            f"{r.billed:.2f} | {'exit 0' if r.audit_exit == 0 else f'exit {r.audit_exit}'} | "
            f"{r.seconds:.0f} |"
        )
    lines += [
        "",
        "Site jobs left *unknown* are those whose request never reached the provider (a reset "
        "or cut body before it processed them is indistinguishable from one after): no "
        "provider job exists for them, none is billed, and staff resolve them in the admin "
        "(*mark abandoned* or *resubmit*). Every provider job is bound to exactly one site job.",
        "",
        f"Machine: {machine.cpus} CPUs ({machine.cpu_model}), PostgreSQL {machine.postgres}, "
        f"Python {machine.python}, Django {machine.django}; load average "
        f"{machine.load_before} before, {machine.load_after} after.",
        "",
        *reproduce(
            "a PostgreSQL database named like *bench*, dropped at the end",
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_money "
            ".venv/bin/python bench/money_truth.py",
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
