"""Webhook receiver benchmark: verified and duplicate deliveries per second on gunicorn.

For each gunicorn configuration (worker class and count) the script

1. empties the tables and creates N in-flight jobs (``in_progress``, with provider ids);
2. starts ``gunicorn project.wsgi`` as a subprocess (``DJANGO_DEBUG=false``, persistent
   database connections through ``DATABASE_CONN_MAX_AGE=60``, one webhook secret);
3. *first deliveries*: pre-signs N ``video.generation.completed`` events (one per job, each
   with its own cost) and fires them concurrently; every one is verified, stored under its
   idempotency key and applied through the lifecycle function (locked row, CAS update,
   JobEvent, ledger row);
4. *duplicates*: the same N bodies again (re-signed, as a provider's retry would be); each is
   verified and answered 204 after one indexed read;
5. checks the database is exact (N jobs completed, N completion events, N ledger rows whose
   costs add up to the events', N deliveries all processed, every answer a 204), stops
   gunicorn.

The load generator runs in this process: one asyncio loop speaking raw HTTP/1.1 over a fixed
number of keep-alive connections (reconnecting whenever the server closes one, as gunicorn's
sync workers do after every request), with every request's bytes built before the clock
starts. Its CPU time is measured and reported next to gunicorn's and PostgreSQL's, so the
share of the two cores it takes is visible. (``wrk`` would be cheaper still but is not part
of the project's environment.)

Runs against the PostgreSQL server of ``DATABASE_URL``, in a database of its own
(``videogen_bench_webhooks`` by default, dropped and re-created). Results are printed and
written to the "Webhooks (bench/webhooks.py)" section of ``docs/benchmarks.md``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench import _common as common
from bench._common import log

SECTION = "## Webhooks (bench/webhooks.py)"
COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen .venv/bin/python bench/webhooks.py"
)
DEFAULT_DB = "videogen_bench_webhooks"
PATH = "/videogen/webhooks/openrouter/"
SECRET = "whsec-bench-" + secrets.token_hex(8)
MODEL = "google/veo-3.1"
TARGET_VERIFIED = 300.0
TARGET_DUPLICATE = 1000.0
DEFAULT_CONFIGS = ["sync:2", "sync:4", "gthread:2x4", "gthread:4x2"]


# --- database -----------------------------------------------------------------------------


def reset_tables() -> None:
    from django.db import connection

    from videogen.models import JobEvent, UsageEntry, VideoJob, WebhookDelivery, Workspace

    tables = [m._meta.db_table for m in (WebhookDelivery, UsageEntry, JobEvent, VideoJob)]
    tables.append(Workspace._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def create_jobs(n: int, prefix: str) -> list[str]:
    """N in-flight jobs with provider ids; returns the provider ids."""
    from django.db import connection
    from django.utils import timezone

    from videogen.models import JobStatus, VideoJob, Workspace

    workspace = Workspace.objects.create(name="Bench", slug=f"bench-{prefix}")
    now = timezone.now()
    ids = [f"{prefix}-{i:06d}" for i in range(n)]
    VideoJob.objects.bulk_create(
        [
            VideoJob(
                workspace=workspace,
                model=MODEL,
                prompt="benchmark",
                duration=8,
                status=JobStatus.IN_PROGRESS,
                provider_job_id=pid,
                submitted_at=now,
                next_poll_at=None,
            )
            for pid in ids
        ],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ids


def cost_of(i: int) -> Decimal:
    return Decimal(i % 997 + 1) / 100


@dataclass
class Verification:
    completed: int = 0
    completion_events: int = 0
    events_total: int = 0
    ledger_rows: int = 0
    ledger_sum: Decimal = Decimal(0)
    expected_sum: Decimal = Decimal(0)
    deliveries: int = 0
    processed: int = 0

    def exact(self, n: int) -> bool:
        return (
            self.completed == n
            and self.completion_events == n
            and self.events_total == n
            and self.ledger_rows == n
            and self.ledger_sum == self.expected_sum
            and self.deliveries == n
            and self.processed == n
        )

    def __str__(self) -> str:
        return (
            f"{self.completed:,} completed, {self.completion_events:,} completion events "
            f"({self.events_total:,} events in all), {self.ledger_rows:,} ledger rows "
            f"(sum {self.ledger_sum} USD, expected {self.expected_sum}), "
            f"{self.deliveries:,} deliveries ({self.processed:,} processed)"
        )


def verify(n: int) -> Verification:
    from django.db.models import Sum

    from videogen.models import (
        JobEvent,
        JobStatus,
        UsageEntry,
        VideoJob,
        WebhookDelivery,
        WebhookOutcome,
    )

    return Verification(
        completed=VideoJob.objects.filter(status=JobStatus.COMPLETED).count(),
        completion_events=JobEvent.objects.filter(
            to_status=JobStatus.COMPLETED, source="webhook"
        ).count(),
        events_total=JobEvent.objects.count(),
        ledger_rows=UsageEntry.objects.count(),
        ledger_sum=UsageEntry.objects.aggregate(s=Sum("cost"))["s"] or Decimal(0),
        expected_sum=sum((cost_of(i) for i in range(n)), Decimal(0)),
        deliveries=WebhookDelivery.objects.count(),
        processed=WebhookDelivery.objects.filter(outcome=WebhookOutcome.PROCESSED).count(),
    )


# --- CPU accounting ---------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def all_process_cpu() -> dict[int, tuple[int, float, str]]:
    """``{pid: (ppid, cpu seconds, name)}`` of every process (user + system, all threads)."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            name, rest = (
                Path(f"/proc/{entry.name}/stat").read_text().split(" (", 1)[1].rsplit(")", 1)
            )
            fields = rest.split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
            out[int(entry.name)] = (int(fields[1]), cpu, name)
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, in seconds."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class CpuShare:
    gunicorn: float = 0.0
    postgres: float = 0.0
    generator: float = 0.0
    postgres_background: float = 0.0
    other: float = 0.0
    machine_busy: float = 0.0
    machine_total: float = 0.0
    other_by_name: Counter = field(default_factory=Counter)

    def per_request_ms(self, seconds: float, requests: int) -> str:
        def ms(cpu: float) -> str:
            return f"{cpu / requests * 1000:.2f}"

        others = ", ".join(
            f"{name} {cpu:.2f} s" for name, cpu in self.other_by_name.most_common(3) if cpu > 0
        )
        return (
            f"gunicorn {ms(self.gunicorn)}, PostgreSQL {ms(self.postgres)} "
            f"(+ {ms(self.postgres_background)} other PostgreSQL processes), "
            f"load generator {ms(self.generator)}, rest of the machine {ms(self.other)} "
            f"ms CPU per request ({others or 'nothing'}); "
            f"machine {self.machine_busy / max(self.machine_total, 1e-9):.0%} busy"
        )


class CpuMeter:
    """CPU used during a phase, by kind of process. /proc is sampled every second as well,
    so processes that exit during the phase (a backend recycled by CONN_MAX_AGE) still count
    up to their last sample."""

    def __init__(self, gunicorn_pid: int, dbname: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.dbname = dbname
        self.seen: dict[int, tuple[int, float, str]] = {}
        self.bench_backends: set[int] = set()
        self.checked: set[int] = set()
        self._stop = threading.Event()

    def _sample(self) -> None:
        current = all_process_cpu()
        self.seen.update(current)
        for pid, (_ppid, _cpu, name) in current.items():
            if name != "postgres" or pid in self.checked:
                continue
            self.checked.add(pid)
            with contextlib.suppress(OSError):
                # A backend's title: "postgres: 15/main: <user> <database> <client> <state>".
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if f" {self.dbname} " in title:
                    self.bench_backends.add(pid)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self.before = all_process_cpu()
        self.busy0 = machine_busy()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        busy1 = machine_busy()
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        share = CpuShare()
        share.generator = (self1.ru_utime - self.self0.ru_utime) + (
            self1.ru_stime - self.self0.ru_stime
        )
        me = os.getpid()
        for pid, (ppid, cpu, name) in self.seen.items():
            delta = cpu - self.before.get(pid, (ppid, 0.0, name))[1]
            if pid == me:
                continue
            if pid == self.gunicorn_pid or ppid == self.gunicorn_pid:
                share.gunicorn += delta
            elif pid in self.bench_backends:
                share.postgres += delta
            elif name == "postgres":
                share.postgres_background += delta
            else:
                share.other += delta
                share.other_by_name[name] += delta
        share.machine_busy = busy1[0] - self.busy0[0]
        share.machine_total = busy1[1] - self.busy0[1]
        self.share = share


# --- gunicorn -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        kind, _, size = text.partition(":")
        if kind not in ("sync", "gthread") or not size:
            raise argparse.ArgumentTypeError(f"{text!r}: use sync:<workers> or gthread:<w>x<t>")
        workers, _, threads = size.partition("x")
        return cls(kind, int(workers), int(threads or (1 if kind == "sync" else 4)))

    @property
    def label(self) -> str:
        if self.worker_class == "sync":
            return f"sync, {self.workers} workers"
        return f"gthread, {self.workers} workers × {self.threads} threads"


class Gunicorn:
    def __init__(self, config: ServerConfig, database_url: str, overrides: str = "") -> None:
        self.config = config
        self.database_url = database_url
        self.overrides = overrides
        self.port = common.free_port()
        self.proc: subprocess.Popen | None = None
        # Open for gunicorn's whole life; removed when closed (stop()).
        self.log = tempfile.NamedTemporaryFile(prefix="videogen-gunicorn-", suffix=".log")  # noqa: SIM115

    def start(self) -> Gunicorn:
        cmd = [
            str(common.ROOT / ".venv" / "bin" / "gunicorn"),
            "project.wsgi",
            "-w",
            str(self.config.workers),
            "-k",
            self.config.worker_class,
            "-b",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
        ]
        if self.config.worker_class == "gthread":
            cmd += ["--threads", str(self.config.threads)]
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DATABASE_CONN_MAX_AGE": "60",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "VIDEOGEN_WEBHOOK_SECRETS": SECRET,
            "VIDEOGEN_LOG_LEVEL": "WARNING",
        }
        env["VIDEOGEN_OVERRIDES"] = self.overrides
        self.proc = common.start_process(
            cmd,
            name="gunicorn",
            env=env,
            log_file=self.log,
            ready=self._answers,
            log_tail=self.log_tail,
        )
        return self

    def _answers(self) -> bool:
        """A GET on the receiver is answered 405 (and touches no table)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(
                    f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
                )
                return sock.recv(64).startswith(b"HTTP/1.1 405")
        except OSError:
            return False

    def warm_up(self, rounds: int = 50) -> None:
        """Every worker imports and builds its URLconf before the clock starts."""
        for _ in range(rounds * self.config.workers):
            self._answers()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        # After 15 s, SIGKILL to its own session: the master and the workers.
        common.stop_process(proc, timeout=15)
        self.log.close()

    def log_tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]


# --- the load generator -------------------------------------------------------------------


def sign(body: bytes, timestamp: int) -> str:
    digest = hmac.new(SECRET.encode(), f"{timestamp},".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def event_body(provider_id: str, i: int) -> bytes:
    return json.dumps(
        {
            "type": "video.generation.completed",
            "created_at": "2026-11-25T12:00:00Z",
            "data": {
                "id": provider_id,
                "status": "completed",
                "generation_id": f"gen-{provider_id}",
                "model": MODEL,
                "unsigned_urls": [
                    f"https://openrouter.ai/api/v1/videos/{provider_id}/content?index=0"
                ],
                "usage": {"cost": float(cost_of(i)), "is_byok": False},
                "error": None,
            },
        }
    ).encode()


def raw_requests(port: int, provider_ids: list[str]) -> list[bytes]:
    """Every request's bytes, signed now (well inside the receiver's 300 s tolerance)."""
    now = int(time.time())
    out = []
    for i, pid in enumerate(provider_ids):
        body = event_body(pid, i)
        head = (
            f"POST {PATH} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\n"
            "User-Agent: videogen-bench\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-OpenRouter-Signature: {sign(body, now)}\r\n"
            f"X-OpenRouter-Idempotency-Key: {pid}-completed\r\n"
            "\r\n"
        )
        out.append(head.encode() + body)
    return out


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    connections_opened: int = 0
    retries: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status code, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif status not in (204, 304):
        await reader.read()  # body until the server closes
        close = True
    return status, close


async def _fire(port: int, payloads: list[bytes], connections: int) -> LoadResult:
    queue = list(reversed(payloads))
    result = LoadResult(requests=len(payloads), seconds=0.0)

    async def client() -> None:
        reader = writer = None
        while queue:
            payload = queue.pop()
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        result.connections_opened += 1
                    started = time.perf_counter()
                    writer.write(payload)
                    status, close = await _read_response(reader)
                    result.latencies.append(time.perf_counter() - started)
                    result.statuses[status] += 1
                    if close:
                        writer.close()
                        writer = None
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    # The server closed an idle keep-alive connection: send again on a new one.
                    if writer is not None:
                        writer.close()
                    writer = None
                    result.retries += 1
                    if attempt == 2:
                        result.statuses["connection error"] += 1
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def fire(port: int, payloads: list[bytes], connections: int) -> LoadResult:
    return asyncio.run(_fire(port, payloads, connections))


# --- one configuration ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    load: LoadResult
    cpu: CpuShare

    @property
    def ok(self) -> bool:
        return set(self.load.statuses) == {204}


@dataclass
class ConfigResult:
    config: ServerConfig
    n: int
    connections: int
    first: Phase
    duplicate: Phase
    after_first: Verification
    after_duplicates: Verification

    @property
    def exact(self) -> bool:
        return (
            self.first.ok
            and self.duplicate.ok
            and self.after_first.exact(self.n)
            and self.after_duplicates.exact(self.n)
        )


def run_config(
    config: ServerConfig, args: argparse.Namespace, url: str, index: int
) -> ConfigResult:
    from django.db import connection

    n, connections, dbname = args.jobs, args.connections, args.database
    reset_tables()
    provider_ids = create_jobs(n, f"bench{index}")
    connection.close()
    server = Gunicorn(config, url, args.overrides).start()
    try:
        server.warm_up()
        phases = {}
        checks = {}
        for name in ("first deliveries", "duplicates"):
            payloads = raw_requests(server.port, provider_ids)
            with CpuMeter(server.proc.pid, dbname) as meter:
                load = fire(server.port, payloads, connections)
            phases[name] = Phase(name, load, meter.share)
            checks[name] = verify(n)
            log_phase(config, phases[name], checks[name], n)
    finally:
        server.stop()
        connection.close()
    return ConfigResult(
        config=config,
        n=n,
        connections=connections,
        first=phases["first deliveries"],
        duplicate=phases["duplicates"],
        after_first=checks["first deliveries"],
        after_duplicates=checks["duplicates"],
    )


def log_phase(config: ServerConfig, phase: Phase, check: Verification, n: int) -> None:
    load = phase.load
    log(
        f"{config.label:<32} {phase.name:<17} {load.rate:8,.0f}/s  "
        f"({load.requests:,} in {load.seconds:.2f} s; p50 {load.latency_ms(0.5):.1f} ms, "
        f"p99 {load.latency_ms(0.99):.1f} ms; answers {dict(load.statuses)}; "
        f"{load.connections_opened:,} connections, {load.retries} resent)"
    )
    log(f"{'':<32} {'':<17} {phase.cpu.per_request_ms(load.seconds, load.requests)}")
    log(f"{'':<32} {'':<17} database: {check} — {'exact' if check.exact(n) else 'NOT EXACT'}")


# --- where the time goes (in process) --------------------------------------------------------


@dataclass
class Breakdown:
    n: int
    first_cpu_ms: float
    lifecycle_ms: float
    signals_ms: float
    duplicate_cpu_ms: float
    first_statements: Counter
    duplicate_statements: Counter
    connections_opened: int

    @staticmethod
    def describe(statements: Counter) -> str:
        return ", ".join(f"{count} {verb}" for verb, count in statements.most_common())

    def lines(self) -> list[str]:
        other = self.first_cpu_ms - self.lifecycle_ms - self.signals_ms
        return [
            f"- First delivery: {self.first_cpu_ms:.2f} ms of CPU in the receiver's process "
            f"(no HTTP server), of which {self.lifecycle_ms:.2f} ms in `job_apply_snapshot` "
            f"(the lifecycle: locked read, CAS update, JobEvent, ledger row), "
            f"{self.signals_ms:.2f} ms in the on-commit signal receivers (the output-fetch "
            f"task enqueued on completion) and {other:.2f} ms in the receiver itself (verify, "
            "parse, idempotency read, store, claim, outcome). "
            f"{sum(self.first_statements.values())} SQL statements: "
            f"{self.describe(self.first_statements)}; "
            f"{self.connections_opened / self.n:.2f} database connections opened per "
            "delivery (with `DATABASE_CONN_MAX_AGE=60`).",
            f"- Duplicate: {self.duplicate_cpu_ms:.2f} ms of CPU in the receiver's process; "
            f"{sum(self.duplicate_statements.values())} SQL statement: "
            f"{self.describe(self.duplicate_statements)}.",
        ]


def statement_verbs(queries: list[dict]) -> Counter:
    verbs: Counter = Counter()
    for query in queries:
        words = query["sql"].split(None, 2)
        verb = words[0].upper() if words else "?"
        if verb == "SELECT" and "FOR UPDATE" in query["sql"]:
            verb = "SELECT … FOR UPDATE"
        elif verb == "RELEASE":
            verb = "RELEASE SAVEPOINT"
        verbs[verb] += 1
    return verbs


def profile_in_process(n: int) -> Breakdown:
    """Call ``webhook_receive`` directly for N first deliveries and N duplicates, timing the
    CPU of this thread and of the lifecycle and signal receivers inside it; count the SQL
    statements of one of each."""
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.test.utils import CaptureQueriesContext

    from videogen import signals
    from videogen.services import webhooks

    reset_tables()
    ids = create_jobs(n + 1, "inproc")
    spent = {"lifecycle": 0.0, "signals": 0.0}
    original_apply = webhooks.job_apply_snapshot

    def timed_apply(**kwargs):
        started = time.thread_time()
        try:
            return original_apply(**kwargs)
        finally:
            spent["lifecycle"] += time.thread_time() - started

    patched = []
    for sig in (signals.job_status_changed, signals.job_completed):
        original_send = sig.send

        def timed_send(*args, _send=original_send, **kwargs):
            started = time.thread_time()
            try:
                return _send(*args, **kwargs)
            finally:
                spent["signals"] += time.thread_time() - started

        sig.send = timed_send
        patched.append(sig)

    def deliver(i: int, pid: str) -> None:
        body = event_body(pid, i)
        headers = {
            "X-OpenRouter-Signature": sign(body, int(time.time())),
            "X-OpenRouter-Idempotency-Key": f"{pid}-completed",
            "Content-Type": "application/json",
        }
        answer = webhooks.webhook_receive(body=body, headers=headers)
        if answer.status_code != 204:
            raise RuntimeError(f"in-process delivery answered {answer}")

    opened = []

    def count_connection(sender, **kwargs) -> None:
        opened.append(1)

    webhooks.job_apply_snapshot = timed_apply
    connection.ensure_connection()
    try:
        with CaptureQueriesContext(connection) as first_queries:
            deliver(0, ids[0])
        with CaptureQueriesContext(connection) as duplicate_queries:
            deliver(0, ids[0])
        spent.update(lifecycle=0.0, signals=0.0)
        connection_created.connect(count_connection)
        started = time.thread_time()
        for i, pid in enumerate(ids[1:], start=1):
            deliver(i, pid)
        first_cpu = time.thread_time() - started
        connection_created.disconnect(count_connection)
        lifecycle, signals_cpu = spent["lifecycle"], spent["signals"]
        started = time.thread_time()
        for i, pid in enumerate(ids[1:], start=1):
            deliver(i, pid)
        duplicate_cpu = time.thread_time() - started
    finally:
        webhooks.job_apply_snapshot = original_apply
        connection_created.disconnect(count_connection)
        for sig in patched:
            del sig.send
    return Breakdown(
        n=n,
        first_cpu_ms=first_cpu / n * 1000,
        lifecycle_ms=lifecycle / n * 1000,
        signals_ms=signals_cpu / n * 1000,
        duplicate_cpu_ms=duplicate_cpu / n * 1000,
        first_statements=statement_verbs(first_queries.captured_queries),
        duplicate_statements=statement_verbs(duplicate_queries.captured_queries),
        connections_opened=len(opened),
    )


# --- reporting --------------------------------------------------------------------------------


def ceiling(phase: Phase, cpus: int) -> float:
    """Requests/s the measured CPU cost (gunicorn + its PostgreSQL backends + generator)
    would allow if all ``cpus`` cores were the benchmark's alone."""
    c = phase.cpu
    spent = c.gunicorn + c.postgres + c.generator
    return cpus * phase.load.requests / spent if spent else 0.0


def others_cores(phase: Phase) -> float:
    """Cores used on average by everything else on the machine during the phase."""
    return (phase.cpu.other + phase.cpu.postgres_background) / phase.load.seconds


def table(results: list[ConfigResult], cpus: int) -> list[str]:
    head = [
        "| gunicorn | verified first deliveries/s | p50 / p99 | duplicates/s | p50 / p99 "
        "| CPU ms per first delivery (gunicorn / PG / generator) "
        "| CPU ms per duplicate (gunicorn / PG / generator) "
        f"| CPU-bound ceiling on {cpus} free cores (first / duplicate) "
        "| other load (cores, first / duplicate) | DB exact |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|",
    ]
    rows = []
    for r in results:
        f, d = r.first, r.duplicate

        def cpu(phase: Phase) -> str:
            n = phase.load.requests
            c = phase.cpu
            return (
                f"{c.gunicorn / n * 1000:.2f} / {c.postgres / n * 1000:.2f} / "
                f"{c.generator / n * 1000:.2f}"
            )

        rows.append(
            f"| {r.config.label} | **{f.load.rate:,.0f}** "
            f"| {f.load.latency_ms(0.5):.0f} / {f.load.latency_ms(0.99):.0f} ms "
            f"| **{d.load.rate:,.0f}** "
            f"| {d.load.latency_ms(0.5):.0f} / {d.load.latency_ms(0.99):.0f} ms "
            f"| {cpu(f)} | {cpu(d)} "
            f"| {ceiling(f, cpus):,.0f} / {ceiling(d, cpus):,.0f} "
            f"| {others_cores(f):.2f} / {others_cores(d):.2f} "
            f"| {'yes' if r.exact else '**NO**'} |"
        )
    return head + rows


def verdict(results: list[ConfigResult]) -> list[str]:
    best_first = max(results, key=lambda r: r.first.load.rate)
    best_dup = max(results, key=lambda r: r.duplicate.load.rate)
    met_first = best_first.first.load.rate >= TARGET_VERIFIED
    met_dup = best_dup.duplicate.load.rate >= TARGET_DUPLICATE
    return [
        f"- Verified first deliveries: best {best_first.first.load.rate:,.0f}/s "
        f"({best_first.config.label}); target ≥ {TARGET_VERIFIED:,.0f}/s "
        f"**{'met' if met_first else 'NOT met'}**.",
        f"- Duplicate deliveries: best {best_dup.duplicate.load.rate:,.0f}/s "
        f"({best_dup.config.label}); target ≥ {TARGET_DUPLICATE:,.0f}/s "
        f"**{'met' if met_dup else 'NOT met'}**.",
        "- Database exact after every configuration (N completed, N completion events and no "
        "other, N ledger rows with the events' costs, N deliveries all processed, only 204s): "
        f"**{'yes' if all(r.exact for r in results) else 'NO'}**.",
    ]


def gap_notes(results: list[ConfigResult], breakdown: Breakdown | None, cpus: int) -> list[str]:
    """When the first-delivery target is missed: how far the CPU cost is from it, and where
    it goes."""
    best = max(results, key=lambda r: r.first.load.rate)
    if best.first.load.rate >= TARGET_VERIFIED:
        return []
    n = best.first.load.requests
    c = best.first.cpu
    spent = (c.gunicorn + c.postgres + c.generator) / n * 1000
    budget = cpus * 1000 / TARGET_VERIFIED
    lines = [
        "Why the first-delivery target is missed:",
        "",
        f"- {TARGET_VERIFIED:,.0f}/s on {cpus} cores leaves {budget:.1f} ms of CPU per delivery "
        f"for everything together; the best configuration ({best.config.label}) spent "
        f"{spent:.1f} ms (gunicorn {c.gunicorn / n * 1000:.1f}, PostgreSQL "
        f"{c.postgres / n * 1000:.1f}, generator {c.generator / n * 1000:.1f}), so even "
        f"with the machine to itself it would reach about {ceiling(best.first, cpus):,.0f}/s. "
        f"During the run other work used {others_cores(best.first):.2f} cores on average"
        + (
            ", which is why the measured rate is lower still."
            if others_cores(best.first) > 0.2
            else "; the measured rate is close to that ceiling."
        ),
    ]
    if breakdown:
        lines.append(
            f"- Of the {c.gunicorn / n * 1000:.1f} ms in gunicorn, about "
            f"{breakdown.first_cpu_ms:.1f} ms is the receiver code itself (in-process figure "
            f"above; the rest is HTTP parsing, WSGI and Django's middleware), and the lifecycle "
            f"function is the largest part of it ({breakdown.lifecycle_ms:.1f} ms)."
        )
    lines += [
        "- Observed on 2026-11-25 (profiles, not re-measured by this script): in "
        "`job_transition`, the full-row re-read after the CAS update (`refresh_from_db`) and "
        "the full `UsageEntry` read are the heaviest statements after the locked read; an "
        "in-process experiment that applied the written values to the instance instead of "
        "re-reading it, and read only `(pk, cost)` of the ledger row, saved ≈ 0.6 ms per "
        "delivery (≈ 13 % of the receiver's CPU). The output-fetch enqueue on completion "
        "goes through django-q2's ORM broker, which calls `close_old_connections()`: with "
        "`DATABASE_CONN_MAX_AGE=0` (the site's default) that closes and reopens the "
        "request's database connection twice per completed job.",
        "",
    ]
    return lines


def section(
    machine: common.Machine,
    args: argparse.Namespace,
    results: list[ConfigResult],
    breakdown: Breakdown | None,
) -> str:
    import gunicorn

    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine.cpus} CPUs ({machine.cpu_model}), "
        f"PostgreSQL {machine.postgres}, Python {machine.python}, Django {machine.django}, "
        f"gunicorn {gunicorn.__version__}; load average {machine.load_before} when the run "
        "started "
        "(gunicorn, PostgreSQL and the load generator share the same cores).",
        "",
        f"Settings: N = {args.jobs:,} in-flight jobs per configuration, {args.connections} "
        "concurrent client connections, `DJANGO_DEBUG=false`, `DATABASE_CONN_MAX_AGE=60` "
        "(persistent connections), one webhook secret, `WEBHOOK_CONFIRM_BY_POLLING` off "
        "(the default), gunicorn's default access log (off), "
        + (f"`VIDEOGEN_OVERRIDES={args.overrides}`." if args.overrides else "no other overrides.")
        + " Each configuration starts from empty tables and fresh jobs.",
        "",
        *table(results, machine.cpus),
        "",
        *verdict(results),
        "",
        *gap_notes(results, breakdown, machine.cpus),
        "How it is measured:",
        "",
        "- *verified first deliveries*: N signed `video.generation.completed` events, one per "
        "job, fired concurrently; each is verified (HMAC over the raw body), stored under its "
        "idempotency key, and applied through `job_apply_snapshot` (row lock, CAS update, "
        "JobEvent, ledger row), then answered 204. Rate = N ÷ wall time from the first "
        "request sent to the last answer read.",
        "- *duplicates*: the same N bodies again, re-signed as a provider's retry would be; "
        "each is verified and answered 204 after one indexed read of its idempotency key.",
        "- The load generator is this script's own asyncio loop speaking raw HTTP/1.1 over "
        f"{args.connections} connections (keep-alive where the server allows it; gunicorn's "
        "sync workers close after every answer, so those runs open one connection per "
        "request). All request bytes are built and signed before the clock starts. CPU "
        "columns are CPU seconds ÷ requests, from /proc, split between gunicorn (master + "
        "workers), the PostgreSQL backends of the benchmark database and the generator (its "
        "CPU includes building the answers' statistics and a once-a-second /proc sampler).",
        f"- *CPU-bound ceiling*: {machine.cpus} cores ÷ (gunicorn + PostgreSQL backend + "
        "generator CPU per request): the rate the measured cost allows when nothing else "
        "runs. *Other load*: cores used by everything else during the phase (other "
        "PostgreSQL processes included); when it is high, the measured rate is not this "
        "code's but the machine's.",
        "",
        *(
            [
                f"Where the time goes (the same code called in process, {breakdown.n:,} first "
                "deliveries and their duplicates, one statement log of each):",
                "",
                *breakdown.lines(),
                "",
            ]
            if breakdown
            else []
        ),
        *common.reproduce(
            "≈ 2–4 minutes; uses and drops its own database "
            f"`{DEFAULT_DB}` on the server of `DATABASE_URL`",
            COMMAND,
        ),
    ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.argument_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=3000, help="in-flight jobs (N)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--config",
        dest="configs",
        type=ServerConfig.parse,
        nargs="+",
        default=[ServerConfig.parse(c) for c in DEFAULT_CONFIGS],
        help="gunicorn configurations: sync:<workers> or gthread:<workers>x<threads>",
    )
    parser.add_argument("--database", default=DEFAULT_DB, help="database to (re)create")
    parser.add_argument(
        "--overrides",
        default="",
        help="VIDEOGEN_OVERRIDES for gunicorn, e.g. '{\"STORE_OUTPUTS\": false}' (default: none)",
    )
    parser.add_argument(
        "--profile-jobs",
        type=int,
        default=500,
        help="first deliveries timed in process for the breakdown (0: skip it)",
    )
    common.add_output_arguments(parser, keep_db=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url, _name = common.bench_database_url(COMMAND, args.database)
    # The in-process breakdown runs with the same settings as gunicorn.
    os.environ["VIDEOGEN_WEBHOOK_SECRETS"] = SECRET
    os.environ["VIDEOGEN_OVERRIDES"] = args.overrides
    os.environ["DATABASE_CONN_MAX_AGE"] = "60"
    common.recreate_database(url)
    # DJANGO_DEBUG off: no per-query log in this process either.
    common.setup_django(url)
    from django.db import connections

    machine = common.machine_info(load_separator=" ")
    log(
        f"{machine.cpus} CPUs ({machine.cpu_model}), PostgreSQL {machine.postgres}, "
        f"load average {machine.load_before}; N={args.jobs:,}, {args.connections} connections"
    )
    started = time.perf_counter()
    results: list[ConfigResult] = []
    breakdown: Breakdown | None = None
    try:
        with common.sigterm_as_exit():
            for index, config in enumerate(args.configs):
                results.append(run_config(config, args, url, index))
            if args.profile_jobs:
                breakdown = profile_in_process(args.profile_jobs)
                log("\n".join(breakdown.lines()))
    finally:
        connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                common.drop_database(url)
    log("")
    log("\n".join(table(results, machine.cpus)))
    log("")
    log("\n".join(verdict(results)))
    log("\n".join(gap_notes(results, breakdown, machine.cpus)))
    log(f"(whole run {time.perf_counter() - started:.0f} s)")
    if not args.no_docs:
        common.write_docs_section(SECTION, section(machine, args, results, breakdown))
        log(f"wrote {common.DOCS.relative_to(common.ROOT)}")
    return 0 if all(r.exact for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
