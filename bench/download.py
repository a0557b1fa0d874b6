"""Output downloads: memory and speed of ``outputs_fetch()`` on a 500 MiB simulated video.

Target (issue #7): a 500 MB simulated output streams with under 50 MB of memory growth.
Physical limit: the simulator's own rate, the same body read by a bare streaming GET that
throws it away; the fetch (download + hash + spool + store) is shown as a share of it.

The script starts the simulator (its own process) serving a synthetic ``video/mp4`` body
(the sample's ``ftyp`` box, then zeros), sets Django up on a throwaway SQLite database (or
``DATABASE_URL`` when given; the rows are then left there) and a temporary ``MEDIA_ROOT``,
completes one job per pass through the services (the task queue stubbed out), and calls
``outputs_fetch(job_id=…)`` while a thread samples ``VmRSS`` every 2 ms: peak RSS growth is
``max(VmHWM, sampled peak) - VmRSS before``, with ``VmHWM`` reset just before the call. One
more pass runs under ``tracemalloc``. Each pass checks the stored size, the row's ``sha256``
and the stored file's SHA-256 against the expected bytes, regenerated here independently.
About 1 GiB of temporary disk at the peak; everything is removed at the end.

    .venv/bin/python bench/download.py [--size-mib 500] [--runs 3]
"""

from __future__ import annotations

import gc
import hashlib
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench.harness import ROOT, cli, database
from bench.harness.cli import log
from bench.harness.host import Host
from bench.harness.measure import of_limit, timed
from bench.harness.processes import Simulator
from bench.harness.writer import Section, Table

COMMAND = ".venv/bin/python bench/download.py"
SAMPLE = ROOT / "videogen" / "simulator" / "assets" / "sample.mp4"
MIB, MB = 1 << 20, 10**6
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
    """Samples ``VmRSS`` every 2 ms; ``peak`` since the last ``reset()``."""

    def __init__(self) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.peak = 0
        self.stopped = threading.Event()

    def reset(self) -> None:
        self.peak = proc_status_bytes("VmRSS")

    def run(self) -> None:
        while not self.stopped.wait(0.002):
            self.peak = max(self.peak, proc_status_bytes("VmRSS"))


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
        digest.update(zeros[: min(remaining, MIB)])
        remaining -= MIB
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


# --- the runs -------------------------------------------------------------------------------


def completed_job(workspace) -> int:
    from videogen.services.jobs.reconcile import job_poll_now
    from videogen.services.jobs.submission import job_create, job_submit

    job = job_create(workspace=workspace, data={"model": MODEL, "prompt": "A fox in the snow"})
    job_submit(job_id=job.pk)
    deadline = time.monotonic() + 30
    while not job.is_terminal and time.monotonic() < deadline:
        job_poll_now(job_id=job.pk)
        job.refresh_from_db()
        time.sleep(0 if job.is_terminal else 0.05)
    if job.status != "completed":
        raise RuntimeError(f"job {job.pk} ended {job.status!r}, not completed")
    return job.pk


def bare_rate(sim: Simulator, job_id: int, size: int) -> float:
    """MiB/s of a streaming GET of the job's content that throws the bytes away."""
    from videogen.models import VideoJob

    provider_id = VideoJob.objects.get(pk=job_id).provider_job_id
    url = f"{sim.base_url}/videos/{provider_id}/content?index=0"
    with timed() as t, sim.session.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        received = sum(len(chunk) for chunk in response.iter_content(MIB))
    if received != size:
        raise RuntimeError(f"the bare GET received {received:,} B, not {size:,}")
    return size / MIB / t.seconds


@dataclass
class Pass:
    name: str
    seconds: float
    size: int
    rss_before: int
    rss_peak: int
    rss_after: int
    traced_peak: int | None
    stored_size: int
    exact: bool

    @property
    def growth(self) -> int:
        return max(0, self.rss_peak - self.rss_before)

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.seconds


def measure(name: str, job_id: int, sampler: RssSampler, expected: str, size: int) -> Pass:
    from videogen.models import OutputStatus, VideoOutput
    from videogen.services.jobs.outputs import outputs_fetch

    traced = name == "tracemalloc"
    gc.collect()
    if traced:
        tracemalloc.start()
    hwm_reset = reset_peak_rss()
    rss_before = proc_status_bytes("VmRSS")
    sampler.reset()
    with timed() as t:
        report = outputs_fetch(job_id=job_id)
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
    if traced:
        tracemalloc.stop()
    rss_after = proc_status_bytes("VmRSS")
    peak = max(sampler.peak, rss_after, proc_status_bytes("VmHWM") if hwm_reset else 0)
    output = VideoOutput.objects.get(job_id=job_id, index=0)
    if report.stored != 1 or output.status != OutputStatus.STORED:
        raise RuntimeError(f"{name}: not stored ({report}; {output.last_error or output.status})")
    path = output.file.path
    stored = os.path.getsize(path)
    result = Pass(
        name=name,
        seconds=t.seconds,
        size=size,
        rss_before=rss_before,
        rss_peak=peak,
        rss_after=rss_after,
        traced_peak=traced_peak,
        stored_size=stored,
        exact=stored == output.size_bytes == size
        and output.sha256 == file_sha256(path) == expected,
    )
    output.file.delete(save=False)  # 500 MiB: free the disk before the next pass
    return result


# --- the section ----------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def verdict(passes: list[Pass]) -> tuple[int, float, bool]:
    """The largest growth and the median time of the untraced passes, and pass/fail."""
    timed_passes = [p for p in passes if p.traced_peak is None] or passes
    growth = max(p.growth for p in timed_passes)
    median = statistics.median(p.seconds for p in timed_passes)
    return growth, median, growth < TARGET_GROWTH and all(p.exact for p in passes)


def section(
    passes: list[Pass], host: Host, bare: float, db: str, tmp: str, sha: str, command: str
) -> Section:
    growth, median, ok = verdict(passes)
    runs = sum(p.traced_peak is None for p in passes)
    size = passes[0].size
    traced = next((p for p in passes if p.traced_peak is not None), None)
    table = Table.of(
        passes,
        [
            ("pass", "l", lambda p: p.name),
            ("seconds", "r", lambda p: f"{p.seconds:.2f}"),
            (
                "throughput",
                "r",
                lambda p: f"{p.mib_per_s:.0f} MiB/s ({p.size / MB / p.seconds:.0f} MB/s)",
            ),
            ("of the bare GET", "r", lambda p: of_limit(p.mib_per_s, bare)),
            ("RSS before", "r", lambda p: mib(p.rss_before)),
            ("RSS peak", "r", lambda p: mib(p.rss_peak)),
            ("peak RSS growth", "r", lambda p: f"**{mib(p.growth)}**"),
            ("RSS after", "r", lambda p: mib(p.rss_after)),
            ("tracemalloc peak", "r", lambda p: mib(p.traced_peak) if p.traced_peak else "–"),
            ("stored size", "r", lambda p: f"{p.stored_size:,} B"),
            ("SHA-256", "l", lambda p: "matches" if p.exact else "MISMATCH"),
        ],
    )
    return Section(
        title="Output downloads",
        script="bench/download.py",
        command=command,
        host=host,
        summary=[
            "Target (issue #7): a 500 MB simulated output streams with under 50 MB of memory "
            f"growth. Measured: {mib(size)} streamed by `outputs_fetch()` with a peak RSS "
            f"growth of at most **{mib(growth)}** ({growth / MB:.1f} MB) over {runs} "
            f"run{'s' if runs != 1 else ''}, median {median:.2f} s ({size / MIB / median:.0f} "
            f"MiB/s, {size / MB / median:.0f} MB/s, download + hash + spool + store): "
            f"{'**pass**' if ok else '**FAIL**'}.",
            f"Physical limit: the simulator serves the same body to a bare streaming GET that "
            f"throws it away at {bare:.0f} MiB/s (best of 2); the median fetch reached "
            f"{of_limit(size / MIB / median, bare)} of it.",
        ],
        body=[
            table,
            f"Expected SHA-256 of the {mib(size)} body: `{sha}`."
            + (
                f" Peak of Python allocations during the fetch (tracemalloc): "
                f"{mib(traced.traced_peak)}, about one 1 MiB chunk in flight plus its copies."
                if traced and traced.traced_peak is not None
                else ""
            ),
            f"Database: {db}; temporary files and `MEDIA_ROOT` in {tmp}. How it is measured: "
            "bench/README.md, *download.py* (the `tracemalloc` pass's time is not used; other "
            "work on the machine slows the throughput, not the memory).",
        ],
        reproduce_note="about 1 GiB of temporary disk at the peak, removed at the end",
    )


# --- main -----------------------------------------------------------------------------------


def mount_of(path: Path) -> str:
    """``"/tmp (ext4)"``: the directory and the file system type of its mount."""
    best, fstype = "", "?"
    resolved = str(path.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        mount, kind = line.split()[1:3]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, kind
    return f"{path} ({fstype})"


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--size-mib", type=int, default=500, help="size of the simulated output")
    p.add_argument("--runs", type=int, default=3, help="measured passes (RSS + time)")
    p.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    args = p.parse_args(argv)
    size = args.size_mib * MIB
    tmp_root = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_root).free
    if free < MIN_FREE:
        sys.exit(
            f"only {free / MIB / 1024:.1f} GiB free in {tmp_root}; the benchmark needs about "
            "2 GiB (spool + stored copy). Free some space or point TMPDIR elsewhere."
        )
    workdir = Path(tempfile.mkdtemp(prefix="videogen-bench-download-"))
    given = os.environ.get("DATABASE_URL")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_MEDIA_ROOT"] = str(workdir / "media")
    host = Host.collect(packages=["requests", "urllib3"])
    log(host.line())
    sampler = RssSampler()
    try:
        with cli.sigterm_as_exit(), Simulator() as sim:
            sim.configure(content_size_bytes=size, content_chunk_bytes=MIB)
            database.set_videogen_overrides(
                API_KEY=sim.api_key,
                BASE_URL=sim.base_url,
                SIMULATOR=True,
                POLL_INITIAL_DELAY_SECONDS=0,
                POLL_MAX_DELAY_SECONDS=0,
                READ_TIMEOUT=30,
                STORE_OUTPUTS=True,
            )
            database.setup_django(production=False)  # DJANGO_DEBUG as it is
            from django.db import connection

            from videogen.models import Workspace
            from videogen.services import queue
            from videogen.services.catalog import catalog_sync

            queue.enqueue_submit = queue.enqueue_fetch_outputs = lambda job_id: None
            engine = connection.settings_dict["ENGINE"].rsplit(".", 1)[-1]
            db = f"{engine} (DATABASE_URL)" if given else f"{engine} (throwaway file)"
            catalog_sync()
            slug = f"bench-download-{secrets.token_hex(4)}"
            workspace = Workspace.objects.create(name=slug, slug=slug)
            sha = expected_sha256(size)
            names = [f"run {n}" for n in range(1, max(1, args.runs) + 1)]
            names += [] if args.no_tracemalloc else ["tracemalloc"]
            jobs = [completed_job(workspace) for _ in names]
            bare = max(bare_rate(sim, jobs[0], size) for _ in range(2))
            log(f"bare streaming GET: {bare:.0f} MiB/s")
            sampler.start()
            passes = []
            for name, job_id in zip(names, jobs, strict=True):
                passes.append(measure(name, job_id, sampler, sha, size))
                r = passes[-1]
                log(
                    f"{name}: {r.seconds:.2f} s, {r.mib_per_s:.0f} MiB/s "
                    f"({of_limit(r.mib_per_s, bare)} of the bare GET), RSS growth "
                    f"{mib(r.growth)}, content {'exact' if r.exact else 'WRONG'}"
                )
    finally:
        sampler.stopped.set()
        shutil.rmtree(workdir, ignore_errors=True)
    host.finish()
    command = cli.reproduce_command(COMMAND, argv)
    result = section(passes, host, bare, db, mount_of(tmp_root), sha, command)
    cli.publish(result, args)
    return 0 if verdict(passes)[2] else 1


if __name__ == "__main__":
    sys.exit(main())
