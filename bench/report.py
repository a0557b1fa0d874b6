"""Usage-report benchmark: ``usage_report()`` against two naive Python sums of the same rows.

The script

1. drops and re-creates a PostgreSQL database (``DATABASE_URL``, its name must contain
   "bench"), migrates it (so with migration 0004's covering index
   ``videogen_usage_ws_time_cover_idx``; the script checks it is there) and loads a year of
   ledger: ``--rows`` (1,000,000 by default) ``UsageEntry`` rows and their ``VideoJob`` rows,
   generated server-side (``INSERT … SELECT … FROM generate_series``, in ``completed_at``
   order like an append-only ledger), then ``VACUUM ANALYZE`` (what autovacuum does to an
   insert-only table);
2. picks three workspace-months: a typical one (the median of all workspace-months by
   rows), the 90th percentile and the largest one;
3. for each, times ``usage_report(group_by=…)`` by model, by day and by model and day, in UTC
   and in America/New_York (first call, then the median of ``--runs`` warm calls) beside two
   naive approaches, all interleaved:

   - *naive, tuples*: the workspace-month fetched with
     ``values_list("model", "cost", "duration", "completed_at")`` and summed in a Python
     loop (the fastest pure-Python way);
   - *naive, instances*: what one writes first, ``for entry in
     UsageEntry.objects.filter(workspace=…, completed_at…)``, summing ``entry.cost`` per
     ``entry.model`` / ``timezone.localtime(entry.completed_at, tz).date()``.

   All three must give exactly the same figures (``Decimal`` sums compared with ``==``);
4. measures each variant of step 3 twice in a row: as migrated, then without the covering
   index (``DROP INDEX`` in a transaction that is rolled back: the indexes as they were
   before migration 0004, nothing to rebuild), so that its effect stays visible;
5. prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the largest reports, times the largest
   workspace-month's statements with and without the covering index (alternated), and the
   largest model-and-day statement as run (no ``ORDER BY``) and with the former ``ORDER BY``
   at two ``work_mem`` settings (sort vs hash aggregation).

The results are printed and written to the "Usage reports (bench/report.py)" section of
``docs/benchmarks.md``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_report \\
        .venv/bin/python bench/report.py
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench import _common as common
from bench._common import log

SECTION = "## Usage reports (bench/report.py)"
COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_report "
    ".venv/bin/python bench/report.py"
)
TARGET_MS = 100.0
TARGET_RATIO = 20.0
YEAR = 2025
WORKSPACES = 50
ZIPF_S = 1.1  # workspace k (1-based) gets a share proportional to 1 / k**ZIPF_S
GROWTH = 2.0  # December's daily volume over January's (linear growth through the year)
# (model, USD per second of video, share of jobs)
MODELS = [
    ("google/veo-3.1-fast", Decimal("0.15"), 25),
    ("google/veo-3.1", Decimal("0.40"), 18),
    ("openai/sora-2", Decimal("0.10"), 15),
    ("openai/sora-2-pro", Decimal("0.30"), 8),
    ("kwaivgi/kling-v2.1-master", Decimal("0.28"), 10),
    ("bytedance/seedance-1-pro", Decimal("0.06"), 10),
    ("minimax/hailuo-02", Decimal("0.045"), 8),
    ("alibaba/wan-2.2", Decimal("0.03"), 6),
]
DURATIONS = [4, 5, 6, 8, 10]
UNPRICED_SHARE = 0.03  # ledger rows whose cost is not known yet (cost NULL)
TIME_ZONES = ("UTC", "America/New_York")
GROUPINGS = (("model",), ("day",), ("model", "day"))
COVERING_INDEX = "videogen_usage_ws_time_cover_idx"  # migration 0004, PostgreSQL only
COVERING_MIGRATION = "0004_usage_covering_index_postgresql"
PG_SETTINGS = ("shared_buffers", "work_mem", "jit", "max_parallel_workers_per_gather")


# --- database -----------------------------------------------------------------------------


def cumulative(weights: list[float]) -> list[float]:
    """Lower bounds of each bucket in [0, 1) for ``width_bucket(random(), bounds)``."""
    total = sum(weights)
    bounds, running = [], 0.0
    for weight in weights:
        bounds.append(running / total)
        running += weight
    return bounds


def insert_select(model: type, expressions: dict[str, str], source: str) -> tuple[str, list]:
    """``INSERT INTO <model's table> (…) SELECT … FROM <source>`` filling every column.

    Columns named in ``expressions`` get that SQL; any other NOT NULL column gets the
    field's Python default (so a column added later does not break the loader), nullable
    ones stay NULL.
    """
    from django.db import connection

    columns, selects, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in expressions:
            columns.append(f.column)
            selects.append(expressions[f.column])
        elif not f.null:
            default = f.get_default()  # "" for blank string fields without a default
            if default is None:
                raise RuntimeError(f"no value for NOT NULL {model.__name__}.{f.name}")
            columns.append(f.column)
            selects.append("%s")
            params.append(f.get_db_prep_save(default, connection))
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} FROM {source}"
    return sql, params


def load(rows: int) -> dict[str, Any]:
    """Workspaces, then ``rows`` jobs and ledger rows generated by PostgreSQL itself."""
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from videogen.models import UsageEntry, VideoJob, Workspace

    started = time.perf_counter()
    workspaces = Workspace.objects.bulk_create(
        Workspace(name=f"Workspace {k:02d}", slug=f"ws-{k:02d}") for k in range(1, WORKSPACES + 1)
    )
    ws_ids = [w.pk for w in workspaces]
    ws_bounds = cumulative([1 / k**ZIPF_S for k in range(1, WORKSPACES + 1)])
    model_bounds = cumulative([share for _, _, share in MODELS])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        # t in [0, 1): density proportional to 1 + (GROWTH - 1) t, by inverse transform.
        g = GROWTH - 1
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_gen ON COMMIT DROP AS
            SELECT n,
                   (%s::bigint[])[width_bucket(random(), %s::float8[])] AS workspace_id,
                   width_bucket(random(), %s::float8[]) AS model_idx,
                   (%s::int[])[1 + floor(random() * {len(DURATIONS)})::int] AS duration,
                   random() < {UNPRICED_SHARE} AS unpriced,
                   0.9 + 0.2 * random() AS noise,
                   timestamptz '{YEAR}-01-01 00:00:00+00'
                     + ((sqrt(1 + {g} * (2 + {g}) * random()) - 1) / {g})
                       * (timestamptz '{YEAR + 1}-01-01 00:00:00+00'
                          - timestamptz '{YEAR}-01-01 00:00:00+00') AS completed_at
              FROM generate_series(1, %s) AS n
            """,
            [ws_ids, ws_bounds, model_bounds, DURATIONS, rows],
        )
        # Number the rows in completion order: an append-only ledger is stored that way.
        cursor.execute(
            """
            CREATE TEMP TABLE bench_rows ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY completed_at, n) AS id, g.*,
                   (%s::text[])[model_idx] AS model,
                   CASE WHEN unpriced THEN NULL
                        ELSE round((%s::numeric[])[model_idx] * duration * noise::numeric, 8)
                   END AS cost
              FROM bench_gen AS g
            """,
            [[m for m, _, _ in MODELS], [p for _, p, _ in MODELS]],
        )
        sql, params = insert_select(
            VideoJob,
            {
                "id": "id",
                "public_id": "gen_random_uuid()",
                "workspace_id": "workspace_id",
                "model": "model",
                "prompt": "'benchmark ledger row ' || id",
                "duration": "duration",
                "resolution": "'720p'",
                "aspect_ratio": "'16:9'",
                "provider_job_id": "'gen-bench-' || id",
                "generation_id": "'gen-bench-' || id",
                "status": "'completed'",
                "provider_status": "'completed'",
                "cost": "cost",
                "estimated_cost": "cost",
                "created_at": "completed_at - interval '3 minutes'",
                "submitted_at": "completed_at - interval '170 seconds'",
                "finished_at": "completed_at",
                "updated_at": "completed_at",
            },
            "bench_rows ORDER BY id",
        )
        cursor.execute(sql, params)
        jobs_done = time.perf_counter()
        sql, params = insert_select(
            UsageEntry,
            {
                "id": "id",
                "job_id": "id",
                "workspace_id": "workspace_id",
                "model": "model",
                "cost": "cost",
                "duration": "duration",
                "resolution": "'720p'",
                "completed_at": "completed_at",
                "created_at": "completed_at",
                "updated_at": "completed_at",
            },
            "bench_rows ORDER BY id",
        )
        cursor.execute(sql, params)
        for statement in connection.ops.sequence_reset_sql(no_style(), [VideoJob, UsageEntry]):
            cursor.execute(statement)
    entries_done = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE videogen_videojob")
        cursor.execute("VACUUM ANALYZE videogen_usageentry")
        cursor.execute("SELECT pg_total_relation_size('videogen_usageentry')")
        ledger_bytes = cursor.fetchone()[0]
    return {
        "seconds": time.perf_counter() - started,
        "jobs_seconds": jobs_done - started,
        "entries_seconds": entries_done - jobs_done,
        "ledger_mb": ledger_bytes / 2**20,
    }


@dataclass
class Distribution:
    rows: int
    by_workspace: list[int]  # rows per workspace, largest first
    by_model: dict[str, int]
    months: list[int]  # rows per UTC month
    unpriced: int
    ws_months: list[tuple[int, int, int]]  # (rows, workspace id, month), largest first

    def pick(self) -> dict[str, tuple[int, int, int]]:
        return {
            "typical": self.ws_months[len(self.ws_months) // 2],
            "p90": self.ws_months[len(self.ws_months) // 10],
            "largest": self.ws_months[0],
        }


def distribution() -> Distribution:
    from django.db.models import Count, Q
    from django.db.models.functions import ExtractMonth

    from videogen.models import UsageEntry

    per = (
        UsageEntry.objects.annotate(month=ExtractMonth("completed_at"))
        .values("workspace_id", "month")
        .annotate(n=Count("id"))
    )
    ws_months = sorted(((r["n"], r["workspace_id"], r["month"]) for r in per), reverse=True)
    by_ws: dict[int, int] = {}
    months = [0] * 12
    for n, ws, month in ws_months:
        by_ws[ws] = by_ws.get(ws, 0) + n
        months[month - 1] += n
    by_model = dict(UsageEntry.objects.values_list("model").annotate(n=Count("id")).order_by("-n"))
    totals = UsageEntry.objects.aggregate(rows=Count("id"), unpriced=Count("id", Q(cost=None)))
    return Distribution(
        rows=totals["rows"],
        by_workspace=sorted(by_ws.values(), reverse=True),
        by_model=by_model,
        months=months,
        unpriced=totals["unpriced"],
        ws_months=ws_months,
    )


# --- the contenders -----------------------------------------------------------------------


def month_bounds(month: int) -> tuple[date, date]:
    from videogen.services.reports import month_range

    return month_range(YEAR, month)


def local_bounds(start: date, end: date, tz) -> tuple[datetime, datetime]:
    """``start 00:00`` up to, not including, ``end + 1 day 00:00`` in ``tz``, as the report."""
    from django.utils import timezone

    low = timezone.make_aware(datetime.combine(start, datetime.min.time()), tz)
    high = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), tz)
    return low, high


def naive(workspace_id: int, start: date, end: date, group_by: tuple[str, ...], tz) -> dict:
    """The fastest pure-Python way: fetch only the four columns as tuples, sum them in a loop."""
    from django.utils import timezone

    from videogen.models import UsageEntry

    low, high = local_bounds(start, end, tz)
    rows = UsageEntry.objects.filter(
        workspace_id=workspace_id, completed_at__gte=low, completed_at__lt=high
    ).values_list("model", "cost", "duration", "completed_at")
    sums: dict[tuple, list] = {}
    for model, cost, duration, completed_at in rows:
        key = []
        for name in group_by:
            if name == "model":
                key.append(model)
            else:
                key.append(timezone.localtime(completed_at, tz).date())
        key = tuple(key)
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0, 0, Decimal(0), 0]
        acc[0] += 1
        if cost is not None:
            acc[1] += 1
            acc[2] += cost
            acc[3] += duration or 0
    return {k: tuple(v) for k, v in sums.items()}


def naive_instances(
    workspace_id: int, start: date, end: date, group_by: tuple[str, ...], tz
) -> dict:
    """What one writes first: loop over the model instances and add up their fields."""
    from django.utils import timezone

    from videogen.models import UsageEntry

    low, high = local_bounds(start, end, tz)
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0), 0])
    entries = UsageEntry.objects.filter(
        workspace=workspace_id, completed_at__gte=low, completed_at__lt=high
    )
    for entry in entries:
        key = tuple(
            entry.model if name == "model" else timezone.localtime(entry.completed_at, tz).date()
            for name in group_by
        )
        totals[key][0] += 1
        if entry.cost is not None:
            totals[key][1] += 1
            totals[key][2] += entry.cost
            totals[key][3] += entry.duration or 0
    return {k: tuple(v) for k, v in totals.items()}


def service(workspace_id: int, start: date, end: date, group_by: tuple[str, ...], tz) -> dict:
    from videogen.services.reports import usage_report

    report = usage_report(
        workspace_ids=[workspace_id], start=start, end=end, group_by=group_by, tz=tz
    )
    return {
        tuple(row.keys[name] for name in group_by): (
            row.jobs,
            row.priced_jobs,
            row.cost,
            row.seconds,
        )
        for row in report.rows
    }


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class CaptureSQL:
    """``connection.execute_wrapper`` keeping the statements of one call."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


@dataclass
class Case:
    label: str  # "typical" / "p90" / "largest"
    workspace_id: int
    month: int
    rows: int
    group_by: tuple[str, ...]
    tz: str
    groups: int = 0
    report_first: float = 0.0
    report_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    naive_first: float = 0.0
    naive_ms: list[float] = field(default_factory=list)
    instances_first: float = 0.0
    instances_ms: list[float] = field(default_factory=list)
    queries: int = 0
    plan: str = ""
    statement: tuple[str, Any] = ("", None)

    @property
    def report(self) -> float:
        return statistics.median(self.report_ms)

    @property
    def best(self) -> float:
        return min(self.report_ms)

    @property
    def naive(self) -> float:
        return statistics.median(self.naive_ms)

    @property
    def instances(self) -> float:
        return statistics.median(self.instances_ms)

    @property
    def sql(self) -> float:
        return statistics.median(self.sql_ms)

    @property
    def group_by_text(self) -> str:
        return " and ".join(self.group_by)

    @property
    def ratio(self) -> float:
        """Naive (tuples) ÷ report."""
        return self.naive / self.report

    @property
    def ratio_instances(self) -> float:
        """Naive (model instances) ÷ report."""
        return self.instances / self.report


def run_case(case: Case, runs: int) -> Case:
    """First calls, then ``runs`` rounds of report / naive tuples / naive instances / SQL
    alone, interleaved so that all four see the same machine load."""
    from django.db import connection

    tz = ZoneInfo(case.tz)
    start, end = month_bounds(case.month)
    args = (case.workspace_id, start, end, case.group_by, tz)
    capture = CaptureSQL()
    gc.collect()
    with connection.execute_wrapper(capture):  # a few µs: only the list append
        started = time.perf_counter()
        got = service(*args)
        case.report_first = ms_since(started)
    gc.collect()
    started = time.perf_counter()
    summed = naive(*args)
    case.naive_first = ms_since(started)
    gc.collect()
    started = time.perf_counter()
    looped = naive_instances(*args)
    case.instances_first = ms_since(started)
    case.queries = len(capture.statements)
    if case.queries != 1:
        raise AssertionError(f"usage_report ran {case.queries} queries")
    if got != summed:
        raise AssertionError(f"report and naive tuples differ: {case.label} {case.group_by}")
    if got != looped:
        raise AssertionError(f"report and naive instances differ: {case.label} {case.group_by}")
    if not all(isinstance(v[2], Decimal) for d in (got, summed, looped) for v in d.values()):
        raise AssertionError("costs must be Decimal")
    case.groups = len(got)
    sql, params = case.statement = capture.statements[0]
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        again = service(*args)
        case.report_ms.append(ms_since(started))
        gc.collect()
        started = time.perf_counter()
        naive(*args)
        case.naive_ms.append(ms_since(started))
        gc.collect()
        started = time.perf_counter()
        naive_instances(*args)
        case.instances_ms.append(ms_since(started))
        gc.collect()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
        case.sql_ms.append(ms_since(started))
        if again != got:
            raise AssertionError("the report changed between runs")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        case.plan = "\n".join(line for (line,) in cursor.fetchall())
    return case


@dataclass
class Pass:
    title: str
    description: str
    without_index: bool = False  # the covering index dropped for this pass's measurements
    cases: list[Case] = field(default_factory=list)


PASSES = [
    Pass(
        "As migrated",
        f"migration 0004's covering index `{COVERING_INDEX}` `(workspace_id, completed_at) "
        "INCLUDE (model, cost, duration)`, beside `(workspace, completed_at)` and "
        "`(workspace, model, completed_at)`",
    ),
    Pass(
        "Without the covering index (before migration 0004)",
        f"`DROP INDEX {COVERING_INDEX}` in a transaction rolled back after each variant: only "
        "`(workspace, completed_at)` and `(workspace, model, completed_at)`, as before "
        "migration 0004; `usage_report()` as it is now",
        without_index=True,
    ),
]


def run_all(picks: dict[str, tuple[int, int, int]], runs: int, passes: list[Pass]) -> None:
    """Every variant, pass after pass: the passes are interleaved variant by variant so that
    they see the same machine load (the index is dropped in a transaction that is rolled
    back, so nothing has to be rebuilt)."""
    from django.db import connection, transaction

    for label, (rows, ws, month) in picks.items():
        # A new connection for each workspace-month: its first report is a first call.
        connection.close()
        connection.ensure_connection()
        for group_by in GROUPINGS:
            for tz in TIME_ZONES:
                for p in passes:
                    with transaction.atomic():
                        if p.without_index:
                            with connection.cursor() as cursor:
                                cursor.execute(f"DROP INDEX {COVERING_INDEX}")
                        case = run_case(Case(label, ws, month, rows, group_by, tz), runs)
                        transaction.set_rollback(True)
                    log(
                        f"  {'without' if p.without_index else 'with':7} {label:8} "
                        f"({rows:>6,} rows) {'+'.join(group_by):10} {tz:17} "
                        f"{case.groups:>4} groups  report {case.report:6.2f} ms "
                        f"(SQL {case.sql:6.2f}, first {case.report_first:6.2f})  "
                        f"tuples {case.naive:7.2f} ms × {case.ratio:5.1f}  "
                        f"instances {case.instances:7.2f} ms × {case.ratio_instances:5.1f}"
                    )
                    p.cases.append(case)
    connection.close()


def execution_ms(sql: str, params: Any, work_mem: str, runs: int = 7) -> tuple[float, str]:
    """Best ``Execution Time`` of ``runs`` ``EXPLAIN ANALYZE`` with that ``work_mem`` (the
    minimum: the machine is shared, and the plan is the same every time), and a plan."""
    from django.db import connection, transaction

    times, plan = [], ""
    for _ in range(runs):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{work_mem}'")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(line for (line,) in cursor.fetchall())
        times.append(float(plan.rsplit("Execution Time:", 1)[1].split()[0]))
    return min(times), plan


@dataclass
class HashExperiment:
    """The largest model-and-day statement as run (no ORDER BY) and with the former
    ``ORDER BY`` of its grouping columns, at two ``work_mem`` settings."""

    case: Case
    variants: dict[tuple[bool, str], tuple[float, str]]  # (ordered, work_mem) -> (ms, plan)


def hash_experiment(cases: list[Case]) -> HashExperiment:
    case = max(
        (c for c in cases if c.group_by == ("model", "day")), key=lambda c: (c.rows, c.report)
    )
    sql, params = case.statement
    if " ORDER BY " in sql:
        raise AssertionError("usage_report() orders in SQL again: update this experiment")
    # What .order_by(*names) added before: the grouping columns, the first ones selected.
    ordered = f"{sql} ORDER BY {', '.join(str(i + 1) for i in range(len(case.group_by)))}"
    variants = {
        (by, work_mem): execution_ms(ordered if by else sql, params, work_mem)
        for by in (False, True)
        for work_mem in ("4MB", "16MB")
    }
    return HashExperiment(case, variants)


def aggregate_node(plan: str) -> str:
    """``HashAggregate`` or ``GroupAggregate`` (the first aggregate node of the plan)."""
    for line in plan.splitlines():
        for node in ("HashAggregate", "GroupAggregate", "Aggregate"):
            if node in line:
                return node
    return "?"


@dataclass
class IndexRow:
    """One largest-workspace-month statement with and without the covering index."""

    case: Case
    with_ms: list[float] = field(default_factory=list)
    without_ms: list[float] = field(default_factory=list)
    with_plan: str = ""
    without_plan: str = ""

    @property
    def gain(self) -> float:
        """Best time without ÷ best time with."""
        return min(self.without_ms) / min(self.with_ms)


def index_experiment(cases: list[Case], runs: int = 7) -> list[IndexRow]:
    """Each largest-workspace-month statement, ``EXPLAIN ANALYZE`` with the covering index
    and without it (``DROP INDEX`` in a transaction that is rolled back: nothing to rebuild),
    alternated round by round so that both see the same machine load."""
    from django.db import connection, transaction

    out = []
    for case in cases:
        if case.label != "largest":
            continue
        sql, params = case.statement
        row = IndexRow(case)
        for _ in range(runs):
            for dropped in (False, True):
                with transaction.atomic(), connection.cursor() as cursor:
                    if dropped:
                        cursor.execute(f"DROP INDEX {COVERING_INDEX}")
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = "\n".join(line for (line,) in cursor.fetchall())
                    transaction.set_rollback(True)
                ms = float(plan.rsplit("Execution Time:", 1)[1].split()[0])
                if dropped:
                    row.without_ms.append(ms)
                    row.without_plan = plan
                else:
                    row.with_ms.append(ms)
                    row.with_plan = plan
        out.append(row)
    return out


def scan_node(plan: str) -> str:
    """``Index Only Scan``, ``Bitmap Heap Scan``… (the first scan node), and its buffers."""
    node = next(
        (
            kind
            for line in plan.splitlines()
            for kind in ("Index Only Scan", "Bitmap Heap Scan", "Index Scan", "Seq Scan")
            if kind in line
        ),
        "?",
    )
    buffers = next((x.strip() for x in plan.splitlines() if "Buffers: shared" in x), "")
    hit = buffers.removeprefix("Buffers: shared ").replace("hit=", "").split()
    return f"{node}, {hit[0] if hit else '?'} buffers"


# --- reporting ------------------------------------------------------------------------------


def month_name(month: int) -> str:
    return date(YEAR, month, 1).strftime("%B %Y")


def yes_no(met: bool) -> str:
    return "yes" if met else "**no**"


def table(cases: list[Case]) -> list[str]:
    lines = [
        "| workspace-month | group by | time zone | groups | report, warm median (best) "
        "| SQL alone | report, first call | naive tuples, warm median "
        "| naive instances, warm median | tuples ÷ report | instances ÷ report |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        lines.append(
            f"| {c.label} ({c.rows:,} rows) | {', '.join(c.group_by)} | {c.tz} | {c.groups} "
            f"| {c.report:.2f} ms ({c.best:.2f}) | {c.sql:.2f} ms | {c.report_first:.2f} ms "
            f"| {c.naive:.1f} ms | {c.instances:.1f} ms "
            f"| **{c.ratio:.1f}×** | **{c.ratio_instances:.1f}×** |"
        )
    return lines


def by_pick(cases: list[Case]) -> dict[str, list[Case]]:
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.label, []).append(c)
    return groups


@dataclass
class PickVerdict:
    label: str
    rows: int
    slowest: float  # warm median, ms
    best: float
    first: float
    tuples: tuple[float, float]  # lowest, highest ratio over the six variants
    instances: tuple[float, float]

    @property
    def fast(self) -> bool:
        return self.slowest < TARGET_MS

    @property
    def over_tuples(self) -> bool:
        return self.tuples[0] >= TARGET_RATIO

    @property
    def over_instances(self) -> bool:
        return self.instances[0] >= TARGET_RATIO


def verdicts(p: Pass) -> list[PickVerdict]:
    out = []
    for label, cs in by_pick(p.cases).items():
        out.append(
            PickVerdict(
                label=label,
                rows=cs[0].rows,
                slowest=max(c.report for c in cs),
                best=max(c.best for c in cs),
                first=max(c.report_first for c in cs),
                tuples=(min(c.ratio for c in cs), max(c.ratio for c in cs)),
                instances=(
                    min(c.ratio_instances for c in cs),
                    max(c.ratio_instances for c in cs),
                ),
            )
        )
    return out


def summary(passes: list[Pass]) -> list[str]:
    lines = [
        "| indexes | workspace-month | slowest report, warm median (best) "
        f"| slowest first call | < {TARGET_MS:.0f} ms | naive tuples ÷ report "
        f"| ≥ {TARGET_RATIO:.0f}× tuples | naive instances ÷ report "
        f"| ≥ {TARGET_RATIO:.0f}× instances |",
        "|---|---|---:|---:|:-:|---:|:-:|---:|:-:|",
    ]
    for p in passes:
        for v in verdicts(p):
            lines.append(
                f"| {p.title} | {v.label} ({v.rows:,} rows) | {v.slowest:.1f} ms ({v.best:.1f}) "
                f"| {v.first:.1f} ms | {yes_no(v.fast)} "
                f"| {v.tuples[0]:.1f}–{v.tuples[1]:.1f}× | {yes_no(v.over_tuples)} "
                f"| {v.instances[0]:.1f}–{v.instances[1]:.1f}× | {yes_no(v.over_instances)} |"
            )
    return lines


def verdict(p: Pass) -> str:
    parts = [
        f"{v.label}: {v.slowest:.1f} ms ({'met' if v.fast else 'NOT met'}), "
        f"tuples ≥ {v.tuples[0]:.1f}× ({'met' if v.over_tuples else 'NOT met'}), "
        f"instances ≥ {v.instances[0]:.1f}× ({'met' if v.over_instances else 'NOT met'})"
        for v in verdicts(p)
    ]
    return f"{p.title}: " + "; ".join(parts)


def plan_summary(plan: str) -> str:
    """``HashAggregate ← Index Only Scan using … (Heap Fetches: 0); Buffers…; Execution…``."""
    nodes, extra, execution = [], [], ""
    for line in plan.splitlines():
        text = line.strip()
        if "(cost=" in text:
            nodes.append(text.removeprefix("->").strip().split("  (cost=")[0])
        elif text.startswith(("Heap Fetches", "Sort Method", "Batches")):
            extra.append(text)
        elif text.startswith("Execution Time"):
            execution = text
    buffers = next((x.strip() for x in plan.splitlines() if "Buffers: shared" in x), "")
    return f"`{' ← '.join(nodes)}` ({'; '.join([*extra, buffers, execution])})"


@dataclass
class PerRow:
    fixed: float  # report, ms, on the smallest workspace-month
    report: float  # µs per row
    tuples: float
    instances: float


def per_row_model(cases: list[Case]) -> PerRow:
    """Fixed cost and µs per row, from the smallest and largest workspace-months (the
    model/day/both variants pooled by median)."""
    groups = by_pick(cases)
    small = min(groups.values(), key=lambda cs: cs[0].rows)
    large = max(groups.values(), key=lambda cs: cs[0].rows)
    rows = large[0].rows - small[0].rows

    def slope(attr: str) -> float:
        low = statistics.median(getattr(c, attr) for c in small)
        high = statistics.median(getattr(c, attr) for c in large)
        return 1000 * (high - low) / rows

    return PerRow(
        fixed=statistics.median(c.report for c in small),
        report=slope("report"),
        tuples=slope("naive"),
        instances=slope("instances"),
    )


def ratio_range(cases: list[Case], which: str) -> str:
    """``met (a–b×)`` or ``**not met** (a–b×; ≥ 20× in k of the 6 variants)``."""
    ratios = [c.ratio if which == "tuples" else c.ratio_instances for c in cases]
    over = sum(r >= TARGET_RATIO for r in ratios)
    text = f"{min(ratios):.1f}–{max(ratios):.1f}×"
    lowest = min(zip(ratios, cases, strict=True), key=lambda rc: rc[0])[1]
    if over == len(ratios):
        if min(ratios) < 1.15 * TARGET_RATIO:
            return f"met, narrowly ({text}; the lowest is by {lowest.group_by_text} in {lowest.tz})"
        return f"met ({text})"
    if over == 0:
        return f"**not met** ({text})"
    return (
        f"**not met** ({text}; reached by {over} of the {len(ratios)} variants, the lowest is "
        f"by {lowest.group_by_text} in {lowest.tz})"
    )


def plan_rows(plan: str) -> tuple[int, int]:
    """The top node's estimated and actual rows (groups, for an aggregate)."""
    top = plan.splitlines()[0]
    estimated = int(top.split(" rows=", 1)[1].split()[0])
    actual = int(top.split("actual time=", 1)[1].split(" rows=", 1)[1].split()[0])
    return estimated, actual


def section(
    machine: common.Machine,
    dist: Distribution,
    loaded: dict[str, Any],
    picks: dict[str, tuple[int, int, int]],
    runs: int,
    passes: list[Pass],
    index_mb: float | None,
    experiment: HashExperiment | None,
    index_rows: list[IndexRow] | None = None,
) -> str:
    top = dist.by_workspace

    def share(n: int) -> str:
        return f"{100 * n / dist.rows:.1f} %"

    models = ", ".join(f"`{m}` {share(n)}" for m, n in dist.by_model.items())
    ws_month_sizes = [n for n, _, _ in dist.ws_months]
    base = passes[0]
    slope = per_row_model(base.cases)
    load = loaded.get("load", (0.0, 0.0))
    largest_plan = max(base.cases, key=lambda c: (c.rows, c.report)).plan
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine.cpus} CPUs ({machine.cpu_model}), "
        f"PostgreSQL {machine.postgres} on the same machine (stock settings: "
        + ", ".join(f"`{k}` = {v}" for k, v in machine.pg_settings.items())
        + f"), Python {machine.python}, Django {machine.django}, psycopg 3. "
        "The machine was shared with other benchmarks and test runs: 1-minute load average "
        f"{load[0]:.1f} → {load[1]:.1f} on {machine.cpus} CPUs, so absolute times are "
        "pessimistic and noisy (hence the best time beside the median); the report, the two "
        "naive sums and the bare SQL run in turn, interleaved, so that their ratios see the "
        "same load, and each variant is measured with the covering index and then without "
        "it, so that the two passes see the same load too.",
        "",
        "The question: is a workspace-month report by model and by day, computed by "
        f"`usage_report()` (one GROUP BY query), under {TARGET_MS:.0f} ms over a "
        f"{dist.rows:,}-row ledger, and at least {TARGET_RATIO:.0f}× faster than fetching the "
        "same rows through the ORM and summing them in Python? The naive sum is measured two "
        "ways: *naive tuples* fetches only the four needed columns with `values_list()` (the "
        "fastest pure-Python way), *naive instances* loops over the `UsageEntry` instances "
        "(`for entry in UsageEntry.objects.filter(…)`, what one writes first).",
        "",
        "**Data.** "
        f"{dist.rows:,} `UsageEntry` rows (and their {dist.rows:,} `VideoJob` rows) over "
        f"{YEAR}, generated by PostgreSQL (`INSERT … SELECT … generate_series`, fixed seed) "
        f"in {loaded['seconds']:.0f} s, stored in `completed_at` order like an append-only "
        f"ledger, then `VACUUM ANALYZE`; the ledger table and its indexes take "
        f"{loaded['ledger_mb']:.0f} MB"
        + (f", of which {index_mb:.0f} MB for the covering index" if index_mb else "")
        + ". "
        f"{WORKSPACES} workspaces with Zipf-skewed volume (share ∝ 1/rank^{ZIPF_S}): "
        f"the largest has {share(top[0])} of the rows, the top 5 "
        f"{share(sum(top[:5]))}, the median workspace {share(top[len(top) // 2])}, the "
        f"smallest {share(top[-1])}. Volume grows linearly through the year "
        f"({dist.months[0]:,} rows in January, {dist.months[-1]:,} in December). "
        f"{len(MODELS)} models: {models}. Durations {', '.join(map(str, DURATIONS))} s; "
        "cost = the model's price per second × duration × a ±10 % spread, 8 decimal places; "
        f"{share(dist.unpriced)} of the rows are unpriced (cost NULL). "
        f"{len(ws_month_sizes)} workspace-months, from {ws_month_sizes[-1]:,} to "
        f"{ws_month_sizes[0]:,} rows.",
        "",
        "**Measured workspace-months** (sizes by UTC month; the New York variants cover the "
        "same calendar month in that zone): "
        + "; ".join(
            f"*{label}* = workspace #{ws}, {month_name(month)}, **{rows:,} rows**"
            + {
                "typical": " (the median workspace-month)",
                "p90": " (90th percentile)",
                "largest": " (the largest)",
            }[label]
            for label, (rows, ws, month) in picks.items()
        )
        + ". Each is reported by model, by day and by model and day, in UTC and in "
        "America/New_York.",
        "",
        "**Summary** (slowest of the six variants; each ratio's range over the six):",
        "",
        *summary(passes),
        "",
        "**Findings** (as migrated, i.e. with migration 0004's covering index).",
        "",
    ]
    base_cases = by_pick(base.cases)
    base_v = verdicts(base)

    def sizes(which: str) -> str:
        met = [v.label for v in base_v if getattr(v, which)]
        if len(met) == len(base_v):
            return "met at every size"
        if not met:
            return "**not met** at any size"
        return (
            f"**not met** in general, met only on the *{'* and *'.join(met)}* "
            f"workspace-month{'s' if len(met) > 1 else ''}"
        )

    lines.append(
        f"- In short: under {TARGET_MS:.0f} ms {sizes('fast')}; ≥ {TARGET_RATIO:.0f}× naive "
        f"tuples {sizes('over_tuples')} (at most "
        f"{max(c.ratio for c in base.cases):.1f}×); ≥ {TARGET_RATIO:.0f}× naive instances "
        f"{sizes('over_instances')}."
    )
    for v in base_v:
        lines.append(
            f"- *{v.label}* ({v.rows:,} rows): under {TARGET_MS:.0f} ms "
            f"{'met' if v.fast else '**not met**'} (slowest warm report {v.slowest:.1f} ms, "
            f"slowest first call {v.first:.1f} ms); ≥ {TARGET_RATIO:.0f}× naive tuples "
            f"{ratio_range(base_cases[v.label], 'tuples')}; ≥ {TARGET_RATIO:.0f}× naive "
            f"instances {ratio_range(base_cases[v.label], 'instances')}."
        )
    lines += [
        f"- Why the ratios grow with size: the report costs about {slope.fixed:.1f} ms of "
        "fixed cost (query building, round trip, planning, on this loaded machine) plus "
        f"{slope.report:.2f} µs per row; naive tuples {slope.tuples:.1f} µs per row (ORM row "
        "→ tuple, `Decimal` and `datetime` conversion, Python loop), naive instances "
        f"{slope.instances:.1f} µs per row (every column fetched and converted, a model "
        "instance built per row). So the ratios tend towards "
        f"≈ {slope.tuples / slope.report:.0f}× and ≈ {slope.instances / slope.report:.0f}× "
        "on big workspace-months, and stay small on a few hundred rows, where the report's "
        "fixed cost dominates and every approach takes a few milliseconds.",
        "- Where the time goes (`EXPLAIN (ANALYZE, BUFFERS)`, largest workspace-month by "
        f"model and day, as migrated): {plan_summary(largest_plan)}.",
    ]
    text = (
        "- Applied in migration 0004: the covering index "
        f"`{COVERING_INDEX}` `(workspace_id, completed_at) INCLUDE (model, cost, duration)`"
        + (f" ({index_mb:.0f} MB)" if index_mb else "")
        + ", PostgreSQL only (SQLite keeps the plain index)."
    )
    if index_rows:
        gains = [r.gain for r in index_rows]
        worst = max(index_rows, key=lambda r: min(r.with_ms))
        text += (
            " It turns the bitmap heap scan into an index-only scan (largest workspace-month "
            f"by {worst.case.group_by_text}, {worst.case.tz}: without it "
            f"{plan_summary(worst.without_plan)}; with it, see above). "
            "Statement by statement, with and without the index alternated (table below), "
            "PostgreSQL executes the largest workspace-month's statements "
            f"{min(gains):.2f}–{max(gains):.2f}× as fast with it (best times; median "
            f"{statistics.median(gains):.2f}×)."
        )
    if len(passes) > 1:
        before_v = {v.label: v for v in verdicts(passes[1])}
        changed = [
            f"{v.label}, ≥ {TARGET_RATIO:.0f}× naive {which} ({'met' if was else 'not met'} "
            f"without, {'met' if now else 'not met'} with; lowest ratio "
            f"{low_was:.1f}× → {low_now:.1f}×)"
            for v in verdicts(base)
            for which, was, now, low_was, low_now in (
                (
                    "tuples",
                    before_v[v.label].over_tuples,
                    v.over_tuples,
                    before_v[v.label].tuples[0],
                    v.tuples[0],
                ),
                (
                    "instances",
                    before_v[v.label].over_instances,
                    v.over_instances,
                    before_v[v.label].instances[0],
                    v.instances[0],
                ),
            )
            if was != now
        ] + [
            f"{v.label}, under {TARGET_MS:.0f} ms"
            for v in verdicts(base)
            if before_v[v.label].fast != v.fast
        ]
        text += (
            " The whole reports, with against without (the second pass below), slowest warm "
            "median (best) without → with: "
            + "; ".join(
                f"{v.label} {before_v[v.label].slowest:.1f} ({before_v[v.label].best:.1f}) → "
                f"{v.slowest:.1f} ({v.best:.1f}) ms"
                for v in verdicts(base)
            )
            + ". "
            + (
                "Every target's verdict is the same without it."
                if not changed
                else "Verdicts that differ without it: " + "; ".join(changed) + "."
            )
        )
    lines.append(text)
    lines.append(
        '- Applied in `usage_report()`: `Count("*")` and `Count("cost")` (no `id` needed in '
        "the index) and no SQL `ORDER BY` (the few result rows are sorted in Python)."
    )
    if experiment is not None:
        e = experiment
        run4, run16 = e.variants[(False, "4MB")], e.variants[(False, "16MB")]
        ord4 = e.variants[(True, "4MB")]
        estimated, actual = plan_rows(run4[1])
        lines[-1] += (
            " Its effect on the largest model-and-day statement "
            f"({e.case.tz}, as migrated; best of 7 `EXPLAIN ANALYZE` execution times in "
            "PostgreSQL): "
            + "; ".join(
                f"{'as run, no ORDER BY' if not by else 'with the former ORDER BY'}, "
                f"`work_mem` = {mem}: {ms:.1f} ms ({aggregate_node(plan)})"
                for (by, mem), (ms, plan) in e.variants.items()
            )
            + "."
        )
        if aggregate_node(run4[1]) == "HashAggregate" != aggregate_node(ord4[1]):
            lines[-1] += (
                " So dropping the ORDER BY lets the planner hash at the stock 4MB of "
                f"`work_mem`: {ord4[0]:.1f} → {run4[0]:.1f} ms."
            )
        if aggregate_node(run4[1]) == aggregate_node(ord4[1]) != "HashAggregate":
            lines[-1] += (
                " So at the stock 4MB of `work_mem` dropping the ORDER BY does not change the "
                f"plan: the planner estimates {estimated:,} groups ({actual:,} in fact; no "
                "statistics on `date_trunc(… AT TIME ZONE …)`, so it falls back on "
                "`completed_at`, which is unique), expects a hash table that large not to "
                "fit and sorts every row anyway. It hashes only with more memory"
                + (
                    f" ({run16[0]:.1f} ms at 16MB against {ord4[0]:.1f} ms with the former "
                    "ORDER BY at 4MB)"
                    if aggregate_node(run16[1]) == "HashAggregate"
                    else ""
                )
                + ". Raising `work_mem` for the report (`SET LOCAL work_mem` in a "
                "transaction, PostgreSQL only) is not applied; "
                + (
                    f"it is not needed for the {TARGET_MS:.0f} ms target, met above."
                    if all(v.fast for v in verdicts(base))
                    else "it would help the sizes that miss the target."
                )
            )
    if index_rows:
        lines += [
            "",
            "**The covering index, statement by statement** (largest workspace-month; "
            f"`EXPLAIN (ANALYZE, BUFFERS)` execution time in PostgreSQL, best of "
            f"{len(index_rows[0].with_ms)} (median), with and without the index alternated "
            "round by round, the index being dropped in a transaction that is rolled back):",
            "",
            "| group by | time zone | with: plan | with | without: plan | without "
            "| without ÷ with (best) |",
            "|---|---|---|---:|---|---:|---:|",
            *(
                f"| {', '.join(r.case.group_by)} | {r.case.tz} | {scan_node(r.with_plan)} "
                f"| {min(r.with_ms):.1f} ms ({statistics.median(r.with_ms):.1f}) "
                f"| {scan_node(r.without_plan)} "
                f"| {min(r.without_ms):.1f} ms ({statistics.median(r.without_ms):.1f}) "
                f"| **{r.gain:.2f}×** |"
                for r in index_rows
            ),
        ]
    for p in passes:
        lines += [
            "",
            f"**{p.title}** ({p.description}):",
            "",
            *table(p.cases),
        ]
    lines += [
        "",
        "How it is measured:",
        "",
        "- *report*: the whole `usage_report(workspace_ids=[ws], start=…, end=…, "
        "group_by=…, tz=…)` call, Python included: building the query, one SELECT … GROUP BY, "
        "turning rows into `UsageRow`s and sorting them. *SQL alone*: the same captured "
        "statement run through the Django cursor and fetched.",
        "- *naive tuples*: `UsageEntry.objects.filter(workspace_id=ws, completed_at__gte=low, "
        'completed_at__lt=high).values_list("model", "cost", "duration", "completed_at")`, '
        "then a Python loop summing jobs, priced jobs, cost and seconds per key "
        "(`timezone.localtime(completed_at, tz).date()` for the day).",
        "- *naive instances*: `for entry in UsageEntry.objects.filter(workspace=ws, "
        "completed_at__gte=low, completed_at__lt=high)`, then `totals[key][2] += entry.cost` "
        "and so on, with `key` made of `entry.model` and/or "
        "`timezone.localtime(entry.completed_at, tz).date()`. The same half-open range as the "
        "report (`completed_at__range` is inclusive at both ends and would also count a row "
        "completed at midnight on the 1st of the next month). Both naive queries keep the "
        "model's default ordering (`-completed_at`), served by the index.",
        "- All three give the same groups, job counts, seconds and `Decimal` costs: the script "
        "asserts equality on every variant. Every report is exactly one query.",
        f"- *Warm median*: the median of {runs} rounds after the first call (report, naive "
        "tuples, naive instances, SQL alone interleaved). *First call*: the first call of that "
        "variant; each workspace-month starts on a new database connection (its first "
        "variant as migrated is the connection's first report; the variant without the index "
        "follows on the same connection), but the data was just loaded and vacuumed, so pages "
        "are in PostgreSQL's or the OS's cache (a read from disk is not measured).",
        "",
        *common.reproduce(
            f"this run took {loaded['total_seconds']:.0f} s, the load included; "
            "the database named in the URL is dropped and re-created",
            COMMAND,
        ),
    ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="ledger rows to load")
    parser.add_argument("--runs", type=int, default=7, help="warm calls per variant")
    parser.add_argument(
        "--skip-without-index", action="store_true", help="no pass without the covering index"
    )
    common.add_output_arguments(parser, docs_file=True, keep_db=True)
    parser.add_argument(
        "--reuse-db", action="store_true", help="measure an existing database (no load)"
    )
    return parser.parse_args(argv)


def covering_index() -> tuple[str, float]:
    """Migration 0004's index: ``(CREATE INDEX statement, MB)``; exits if it is missing."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder(connection).applied_migrations()
    if ("videogen", COVERING_MIGRATION) not in applied:
        sys.exit(f"migration {COVERING_MIGRATION} is not applied")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(c.oid), pg_relation_size(c.oid) FROM pg_class AS c "
            "WHERE c.oid = to_regclass(%s)",
            [COVERING_INDEX],
        )
        row = cursor.fetchone()
    if row is None:
        sys.exit(
            f"{COVERING_INDEX} is missing although {COVERING_MIGRATION} is applied "
            "(an interrupted --reuse-db run?): re-create the bench database"
        )
    return row[0], row[1] / 2**20


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url, _name = common.bench_database_url(COMMAND)
    started = time.perf_counter()
    if not args.reuse_db:
        common.recreate_database(url)
    # Migrated below, inside the try whose finally drops the database.
    common.setup_django(migrate=False)
    from django.core.management import call_command
    from django.db import connections

    passes = PASSES[:1] if args.skip_without_index else PASSES
    try:
        with common.sigterm_as_exit():
            machine = common.machine_info(pg_settings=PG_SETTINGS)
            log(f"{machine.cpus} CPUs ({machine.cpu_model}), PostgreSQL {machine.postgres}")
            call_command("migrate", verbosity=0)  # every migration, 0004 included
            if args.reuse_db:
                loaded = {"seconds": 0.0, "ledger_mb": 0.0}
            else:
                log(f"loading {args.rows:,} ledger rows…")
                loaded = load(args.rows)
                log(
                    f"loaded in {loaded['seconds']:.1f} s (jobs {loaded['jobs_seconds']:.1f} s, "
                    f"ledger {loaded['entries_seconds']:.1f} s, then VACUUM ANALYZE); "
                    f"ledger {loaded['ledger_mb']:.0f} MB"
                )
            index_sql, index_mb = covering_index()  # never really dropped: see run_all()
            log(f"{index_sql} ({index_mb:.0f} MB)")
            dist = distribution()
            picks = dist.pick()
            for label, (rows, ws, month) in picks.items():
                log(f"{label}: workspace {ws}, {month_name(month)}, {rows:,} rows")
            before = os.getloadavg()[0]
            run_all(picks, args.runs, passes)
            sql = passes[0].cases[0].statement[0]
            log(f"statement (typical, by model, UTC): {sql}")
            index_rows = index_experiment(passes[0].cases)
            for r in index_rows:
                log(
                    f"  largest {'+'.join(r.case.group_by):10} {r.case.tz:17} "
                    f"with the index {min(r.with_ms):6.1f} ms ({scan_node(r.with_plan)}), "
                    f"without {min(r.without_ms):6.1f} ms "
                    f"({scan_node(r.without_plan)}): × {r.gain:.2f}"
                )
            experiment = hash_experiment(passes[0].cases)
            for (ordered, mem), (ms, plan) in experiment.variants.items():
                log(
                    "  largest model+day statement, "
                    f"{'former ORDER BY' if ordered else 'as run, no ORDER BY'}, "
                    f"work_mem {mem}: {ms:.1f} ms ({aggregate_node(plan)})"
                )
            loaded["load"] = (before, os.getloadavg()[0])
    finally:
        connections.close_all()
        if not args.keep_db and not args.reuse_db:
            with contextlib.suppress(Exception):
                common.drop_database(url)
    loaded["total_seconds"] = time.perf_counter() - started
    for p in passes:
        slowest = max(p.cases, key=lambda c: (c.rows, c.report))
        log("")
        log(
            f"EXPLAIN (ANALYZE, BUFFERS) — {p.title}, {slowest.label}, {slowest.group_by}, "
            f"{slowest.tz}:"
        )
        log(slowest.plan)
    log("")
    for p in passes:
        log(verdict(p))
    log(f"(whole run {loaded['total_seconds']:.0f} s)")
    if not args.no_docs:
        text = section(
            machine, dist, loaded, picks, args.runs, passes, index_mb, experiment, index_rows
        )
        common.write_docs_section(SECTION, text, args.docs)
        log(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
