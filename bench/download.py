"""Output-download benchmark: memory and speed of ``outputs_fetch()`` on a 500 MiB video.

The target (the issue): a 500 MB simulated output streams with under 50 MB of memory growth.

The script

1. checks the temporary directory has room (the download is spooled to a temporary file,
   then copied into a temporary ``MEDIA_ROOT``: about 1 GiB on disk at the peak);
2. starts the simulator in its own process (so its memory and GIL are not the fetcher's),
   serving a synthetic ``video/mp4`` body of ``--size-mib`` MiB (500 by default: the
   sample's ``ftyp`` box, then zeros), with jobs that complete at once;
3. sets Django up itself (``project.settings``) on a throwaway SQLite database (or
   ``DATABASE_URL`` when given; the bench's rows are then left there) and a temporary
   ``MEDIA_ROOT``, migrates, syncs the catalog, then creates, submits and completes jobs
   through the services (the task queue is stubbed out);
4. ``--runs`` passes (3 by default), one job each: calls ``outputs_fetch(job_id=…)`` while
   a thread samples ``VmRSS`` every 2 ms; the peak resident set growth is
   ``max(VmHWM, sampled peak) - VmRSS before``, with ``VmHWM`` reset just before the call
   (``echo 5 > /proc/self/clear_refs``). Page cache (the spooled and stored file) is not
   part of a process's RSS. The summary takes the largest growth and the median time;
5. one more pass under ``tracemalloc`` (peak of Python allocations; it slows allocations,
   so its time is not used);
6. after each pass, checks the row (stored, ``size_bytes``, ``sha256``) and the stored file
   (its size, and its SHA-256 read back) against the expected bytes, regenerated here
   independently from ``assets/sample.mp4``'s ``ftyp`` box plus zeros, then deletes it.

The results are printed and written to the "Output downloads (bench/download.py)" section of
``docs/benchmarks.md``; every temporary file is removed at the end.

    .venv/bin/python bench/download.py
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench import _common as common
from bench._common import log

SECTION = "## Output downloads (bench/download.py)"
COMMAND = ".venv/bin/python bench/download.py"
SAMPLE = common.ROOT / "videogen" / "simulator" / "assets" / "sample.mp4"
MIB = 1 << 20
MB = 10**6
DEFAULT_SIZE_MIB = 500
SERVER_CHUNK = MIB
TARGET_GROWTH = 50 * MB
MIN_FREE = 2 * 1024 * MIB
MODEL = "google/veo-3.1"


# --- memory ---------------------------------------------------------------------------------


def proc_status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Samples ``VmRSS`` every ``interval`` seconds; ``peak`` since the last ``reset()``."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def reset(self) -> None:
        self.peak = proc_status_bytes("VmRSS")
        self.samples = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = proc_status_bytes("VmRSS")
            if rss > self.peak:
                self.peak = rss
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


# --- the simulator process ------------------------------------------------------------------


def serve_simulator(size: int, chunk: int, conn: Any) -> None:
    """Child process: run the simulator until the parent says stop (or goes away)."""
    from videogen.simulator import SimulatorConfig, SimulatorServer

    config = SimulatorConfig(
        pending_seconds=0.0,
        processing_seconds=0.0,
        content_size_bytes=size,
        content_chunk_bytes=chunk,
        webhook_secret=None,
    )
    server = SimulatorServer(config).start()
    try:
        conn.send((server.base_url, server.api_key))
        with contextlib.suppress(EOFError, OSError):
            conn.recv()
    finally:
        server.stop()


class SimulatorProcess:
    def __init__(self, size: int, chunk: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=serve_simulator, args=(size, chunk, child), name="simulator", daemon=True
        )
        self.proc.start()
        child.close()
        if not self._conn.poll(30):
            self.stop()
            raise RuntimeError("the simulator did not start within 30 s")
        self.base_url, self.api_key = self._conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self._conn.close()


# --- expected content -----------------------------------------------------------------------


def expected_sha256(size: int) -> str:
    """SHA-256 of the synthetic body, rebuilt here: the sample's ftyp box, then zeros."""
    data = SAMPLE.read_bytes()
    head = data[: int.from_bytes(data[:4], "big")][:size]
    assert head[4:8] == b"ftyp", "sample.mp4 does not start with an ftyp box"
    digest = hashlib.sha256(head)
    zeros = bytes(MIB)
    remaining = size - len(head)
    while remaining > 0:
        n = min(remaining, MIB)
        digest.update(zeros if n == MIB else zeros[:n])
        remaining -= n
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


# --- Django ---------------------------------------------------------------------------------


def configure_django(workdir: Path, sim: SimulatorProcess) -> str:
    """Configure the environment, ``django.setup()``, migrate; returns the database label."""
    given = os.environ.get("DATABASE_URL")
    if not given:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_MEDIA_ROOT"] = str(workdir / "media")
    overrides = json.loads(os.environ.get("VIDEOGEN_OVERRIDES") or "{}")
    overrides.update(
        {
            "API_KEY": sim.api_key,
            "BASE_URL": sim.base_url,
            "SIMULATOR": True,
            "POLL_INITIAL_DELAY_SECONDS": 0,
            "POLL_MAX_DELAY_SECONDS": 0,
            "READ_TIMEOUT": 30,
            "STORE_OUTPUTS": True,
        }
    )
    os.environ["VIDEOGEN_OVERRIDES"] = json.dumps(overrides)
    common.setup_django(production=False)  # DJANGO_DEBUG as it is
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"{engine} (DATABASE_URL)" if given else f"{engine} (throwaway file)"


def stub_queue() -> None:
    """Nothing is sent to a broker: the bench calls the services itself."""
    from videogen.services import queue

    queue.enqueue_submit = lambda job_id: None
    queue.enqueue_fetch_outputs = lambda job_id: None


def completed_job(workspace) -> int:
    from videogen.services.reconcile import job_poll_now
    from videogen.services.submission import job_create, job_submit

    job = job_create(
        workspace=workspace, data={"model": MODEL, "prompt": "A fox crossing a snowy field"}
    )
    job_submit(job_id=job.pk)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job_poll_now(job_id=job.pk)
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.05)
    if job.status != "completed":
        raise RuntimeError(f"job {job.pk} ended {job.status!r}, not completed")
    return job.pk


# --- the measurement ------------------------------------------------------------------------


@dataclass
class Pass:
    name: str
    traced: bool
    seconds: float
    rss_before: int
    rss_peak: int
    rss_after: int
    hwm_reset: bool
    samples: int
    traced_peak: int | None
    size: int
    stored_size: int
    row_sha256: str
    file_sha256: str
    expected_sha256: str

    @property
    def growth(self) -> int:
        return max(0, self.rss_peak - self.rss_before)

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.seconds

    @property
    def exact(self) -> bool:
        return (
            self.stored_size == self.size
            and self.row_sha256 == self.file_sha256 == self.expected_sha256
        )


def measure(
    name: str, job_id: int, sampler: RssSampler, expected: str, size: int, *, traced: bool
) -> Pass:
    from videogen.models import OutputStatus, VideoOutput
    from videogen.services.outputs import outputs_fetch

    gc.collect()
    if traced:
        tracemalloc.start()
    hwm_reset = reset_peak_rss()
    rss_before = proc_status_bytes("VmRSS")
    sampler.reset()
    if traced:
        tracemalloc.reset_peak()
    started = time.perf_counter()
    report = outputs_fetch(job_id=job_id)
    seconds = time.perf_counter() - started
    traced_peak = None
    if traced:
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rss_after = proc_status_bytes("VmRSS")
    peak = max(sampler.peak, rss_after)
    if hwm_reset:
        peak = max(peak, proc_status_bytes("VmHWM"))
    samples = sampler.samples

    output = VideoOutput.objects.get(job_id=job_id, index=0)
    if report.stored != 1 or output.status != OutputStatus.STORED:
        raise RuntimeError(f"{name}: not stored ({report}; {output.last_error or output.status})")
    path = output.file.path
    result = Pass(
        name=name,
        traced=traced,
        seconds=seconds,
        rss_before=rss_before,
        rss_peak=peak,
        rss_after=rss_after,
        hwm_reset=hwm_reset,
        samples=samples,
        traced_peak=traced_peak,
        size=size,
        stored_size=os.path.getsize(path),
        row_sha256=output.sha256,
        file_sha256=file_sha256(path),
        expected_sha256=expected,
    )
    if output.size_bytes != size:
        raise RuntimeError(f"{name}: size_bytes {output.size_bytes} != {size}")
    output.file.delete(save=False)  # 500 MiB: free the disk before the next pass
    return result


# --- machine and report ---------------------------------------------------------------------


def machine_info(tmp: Path) -> dict[str, str]:
    import django
    import requests
    import urllib3

    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    fstype = "?"
    with contextlib.suppress(OSError):
        best = ""
        resolved = str(tmp.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) and len(
                mount
            ) >= len(best):
                best, fstype = mount, parts[2]
    return {
        "CPU": f"{common.cpu_model('?')}, {os.cpu_count()} logical CPUs",
        "Memory": memory,
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "Versions": f"Django {django.get_version()}, requests {requests.__version__}, "
        f"urllib3 {urllib3.__version__}",
        "Temporary files": f"{tmp} ({fstype})",
        "Load average at the end": common.load_average(" / ")
        + " (1 / 5 / 15 min; other work on the machine slows the throughput, not the memory)",
    }


def mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


@dataclass
class Summary:
    growth: int  # the largest peak RSS growth of the untraced passes
    seconds: float  # their median time
    size: int
    exact: bool

    @classmethod
    def of(cls, passes: list[Pass]) -> Summary:
        timed = [p for p in passes if not p.traced] or passes
        return cls(
            growth=max(p.growth for p in timed),
            seconds=statistics.median(p.seconds for p in timed),
            size=timed[0].size,
            exact=all(p.exact for p in passes),
        )

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.seconds

    @property
    def within(self) -> bool:
        return self.growth < TARGET_GROWTH


def render(passes: list[Pass], machine: dict[str, str], database: str, size: int) -> str:
    summary = Summary.of(passes)
    runs = sum(1 for p in passes if not p.traced)
    traced = next((p for p in passes if p.traced), None)
    verdict = "**pass**" if summary.within and summary.exact else "**FAIL**"
    lines = [
        SECTION,
        "",
        f"Target (the issue): a 500 MB simulated output streams with under 50 MB of memory "
        f"growth. Measured: {mib(size)} streamed by `outputs_fetch()` with a peak RSS growth "
        f"of at most **{mib(summary.growth)}** ({summary.growth / MB:.1f} MB) over {runs} "
        f"runs, median {summary.seconds:.2f} s ({summary.mib_per_s:.0f} MiB/s, "
        f"{size / MB / summary.seconds:.0f} MB/s, download + hash + spool + store): {verdict}.",
        "",
        "How: the simulator runs in its own process and serves a synthetic `video/mp4` body "
        f"({mib(size)}: the sample's `ftyp` box, then zeros, in {SERVER_CHUNK // 1024} KiB "
        "chunks); the app fetches it with `outputs_fetch(job_id=…)` (1 MiB reads from the "
        "content endpoint, hashed and spooled to a temporary file, then one `storage.save` "
        f"into a temporary `MEDIA_ROOT`, FileSystemStorage), database: {database}. "
        "Peak RSS growth is `max(VmHWM, VmRSS sampled every 2 ms) - VmRSS` before the call, "
        "with `VmHWM` reset just before it (`/proc/self/clear_refs`); the page cache holding "
        "the spooled and stored file is not in a process's RSS. Python allocations are "
        "measured by `tracemalloc` in one more pass (it slows allocations, so its time is "
        "not used). Each pass is a new job and checks the stored size, the row's "
        "`sha256` and the stored file's SHA-256 read back against the expected bytes, "
        "regenerated independently.",
        "",
        "| pass | seconds | throughput | RSS before | RSS peak | peak RSS growth "
        "| RSS after | tracemalloc peak | stored size | SHA-256 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in passes:
        lines.append(
            f"| {p.name} | {p.seconds:.2f} | {p.mib_per_s:.0f} MiB/s "
            f"({p.size / MB / p.seconds:.0f} MB/s) | {mib(p.rss_before)} | {mib(p.rss_peak)} "
            f"| **{mib(p.growth)}** | {mib(p.rss_after)} "
            f"| {mib(p.traced_peak) if p.traced_peak is not None else '–'} "
            f"| {p.stored_size:,} B | {'matches' if p.exact else 'MISMATCH'} |"
        )
    lines += [
        "",
        f"Expected SHA-256 of the {mib(size)} body: `{passes[0].expected_sha256}`.",
    ]
    if traced is not None and traced.traced_peak is not None:
        lines.append("")
        lines.append(
            f"Peak of Python allocations during the fetch (tracemalloc): "
            f"{mib(traced.traced_peak)}, about one 1 MiB chunk in flight plus its copies."
        )
    lines += ["", "Machine:", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += [
        "",
        *common.reproduce("about 1 GiB of temporary disk at the peak, removed at the end", COMMAND),
    ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.argument_parser(__doc__)
    parser.add_argument(
        "--size-mib", type=int, default=DEFAULT_SIZE_MIB, help="size of the simulated output"
    )
    parser.add_argument("--runs", type=int, default=3, help="measured passes (RSS + time)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    common.add_output_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.size_mib * MIB
    tmp_root = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_root).free
    if free < MIN_FREE:
        sys.exit(
            f"only {free / MIB / 1024:.1f} GiB free in {tmp_root}; the benchmark needs about "
            f"{MIN_FREE / MIB / 1024:.0f} GiB (spool + stored copy of {mib(size)}). "
            "Free some space or point TMPDIR elsewhere."
        )
    log(f"{free / MIB / 1024:.1f} GiB free in {tmp_root}")
    workdir = Path(tempfile.mkdtemp(prefix="videogen-bench-download-"))
    sim: SimulatorProcess | None = None
    sampler = RssSampler()
    try:
        log(f"starting the simulator ({mib(size)} synthetic output) …")
        sim = SimulatorProcess(size, SERVER_CHUNK)
        database = configure_django(workdir, sim)
        stub_queue()

        from videogen.models import Workspace
        from videogen.services.catalog import catalog_sync

        catalog_sync()
        slug = f"bench-download-{secrets.token_hex(4)}"
        workspace = Workspace.objects.create(name=slug, slug=slug)
        log("computing the expected SHA-256 …")
        expected = expected_sha256(size)
        plan = [(f"run {n}", False) for n in range(1, max(1, args.runs) + 1)]
        if not args.no_tracemalloc:
            plan.append(("tracemalloc", True))
        jobs = [completed_job(workspace) for _ in plan]
        sampler.start()
        passes = []
        for (name, traced), job_id in zip(plan, jobs, strict=True):
            log(f"pass {name}: outputs_fetch(job_id={job_id}) …")
            result = measure(name, job_id, sampler, expected, size, traced=traced)
            passes.append(result)
            log(
                f"  {result.seconds:.2f} s, {result.mib_per_s:.0f} MiB/s, RSS "
                f"{mib(result.rss_before)} -> peak {mib(result.rss_peak)} "
                f"(growth {mib(result.growth)}; {result.samples} samples, "
                f"VmHWM reset: {result.hwm_reset})"
                + (
                    f", tracemalloc peak {mib(result.traced_peak)}"
                    if result.traced_peak is not None
                    else ""
                )
                + f", stored {result.stored_size:,} B, sha256 "
                + ("matches" if result.exact else "MISMATCH")
            )
        machine = machine_info(tmp_root)
    finally:
        if sampler.is_alive():
            sampler.stop()
        if sim is not None:
            sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    summary = Summary.of(passes)
    log("")
    log(
        f"largest peak RSS growth {mib(summary.growth)} ({summary.growth / MB:.1f} MB) vs "
        f"target < 50 MB: {'PASS' if summary.within else 'FAIL'}; median "
        f"{summary.seconds:.2f} s ({summary.mib_per_s:.0f} MiB/s); content "
        + ("exact" if summary.exact else "WRONG")
    )
    text = render(passes, machine, database, size)
    if not args.no_docs:
        common.write_docs_section(SECTION, text)
        log(f"wrote the section of {common.DOCS.relative_to(common.ROOT)}")
    return 0 if summary.exact and summary.within else 1


if __name__ == "__main__":
    sys.exit(main())
