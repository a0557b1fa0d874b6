"""Timing, CPU per process (from /proc) and the ratio to a physical limit."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Timer:
    seconds: float = 0.0

    @property
    def ms(self) -> float:
        return self.seconds * 1000


@contextlib.contextmanager
def timed() -> Iterator[Timer]:
    """``with timed() as t: ...``, then ``t.seconds`` (wall clock, ``perf_counter``)."""
    timer = Timer()
    started = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - started


def of_limit(measured: float, limit: float) -> str:
    """``"78 %"``: the share of the physical limit a measured rate reached."""
    return f"{100 * measured / limit:.0f} %" if limit else "–"


# --- CPU from /proc ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str  # the command name of /proc/<pid>/stat
    cpu: float  # user + system seconds, all threads
    reaped: float = 0.0  # user + system seconds of its children that exited and were waited for


def read_proc(pid: int) -> Proc | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = text.split(" (", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return Proc(
        pid,
        int(fields[1]),
        name,
        (int(fields[11]) + int(fields[12])) / CLK_TCK,
        (int(fields[13]) + int(fields[14])) / CLK_TCK,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads), 0 if gone."""
    proc = read_proc(pid)
    return proc.cpu if proc else 0.0


def all_processes() -> dict[int, Proc]:
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(IndexError, ValueError):
                proc = read_proc(int(entry.name))
                if proc:
                    out[proc.pid] = proc
    return out


def machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return (total - values[3] - values[4]) / CLK_TCK, total / CLK_TCK


def process_tree(root_pid: int) -> Callable[[Proc], bool]:
    """Matches ``root_pid`` and its descendants (a server's master and workers, qcluster's
    sentinel and workers)."""

    def match(p: Proc | None) -> bool:
        for _ in range(8):  # deep enough for any server we start
            if p is None or p.ppid <= 1:
                return p is not None and p.pid == root_pid
            if root_pid in (p.pid, p.ppid):
                return True
            p = read_proc(p.ppid)
        return False

    return match


def postmaster(p: Proc) -> bool:
    """PostgreSQL's first process, which forks (and reaps) every backend."""
    if p.name != "postgres":
        return False
    parent = read_proc(p.ppid)
    return parent is None or parent.name != "postgres"


def postgres_backends(database: str) -> Callable[[Proc], bool]:
    """Matches the PostgreSQL backends connected to ``database`` (by their process title,
    "postgres: 15/main: <user> <database> <client> <state>")."""

    def match(p: Proc) -> bool:
        if p.name != "postgres":
            return False
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{p.pid}/cmdline").read_bytes().replace(b"\0", b" ")
            return f" {database} ".encode() in title
        return False

    return match


@dataclass
class CpuShare:
    seconds: dict[str, float]  # by group, "other" last
    other_by_name: Counter = field(default_factory=Counter)
    busy: float = 0.0  # the share of all CPUs that was busy

    def per(self, n: int, group: str) -> float:
        """Milliseconds of ``group`` CPU per one of ``n`` requests (jobs, polls…)."""
        return self.seconds.get(group, 0.0) / n * 1000 if n else 0.0


class CpuMeter:
    """CPU seconds used during a ``with`` block, by groups of processes: ``groups`` maps a
    name to a predicate on ``Proc``; a process counts in the first group it matches (checked
    once, when first seen), else in ``"other"``. /proc is also sampled every ``interval``
    seconds, so a process that exits during the block counts up to its last sample.

    ``reaped`` maps a group to the parent whose exited children belong to it (PostgreSQL's
    postmaster): a backend that lives for one request is seldom sampled, so the group counts
    the CPU its parent reaped during the block instead of its children that exited."""

    def __init__(
        self,
        groups: dict[str, Callable[[Proc], bool]],
        interval: float = 1.0,
        reaped: dict[str, Callable[[Proc], bool]] | None = None,
    ) -> None:
        self.groups = groups
        self.reaped = reaped or {}
        self.interval = interval
        self.group_of: dict[int, str] = {}
        self.seen: dict[int, Proc] = {}
        self._stop = threading.Event()
        self.share = CpuShare(seconds={})

    def _sample(self) -> None:
        for pid, proc in all_processes().items():
            self.seen[pid] = proc
            if pid not in self.group_of:
                self.group_of[pid] = next(
                    (name for name, match in self.groups.items() if match(proc)), "other"
                )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self.before = all_processes()
        self.machine_before = machine_seconds()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        alive = all_processes()
        busy, total = (a - b for a, b in zip(machine_seconds(), self.machine_before, strict=True))
        seconds = dict.fromkeys([*self.groups, "other"], 0.0)
        by_name: Counter = Counter()
        parents = {
            pid: group
            for group, match in self.reaped.items()
            for pid, proc in alive.items()
            if match(proc)
        }
        for pid, group in parents.items():
            start = self.before.get(pid)
            seconds[group] += alive[pid].reaped - (start.reaped if start else 0.0)
        for pid, proc in self.seen.items():
            if pid not in alive and proc.ppid in parents:
                continue  # counted whole in its parent's reaped CPU
            start = self.before.get(pid)
            delta = proc.cpu - (start.cpu if start and start.name == proc.name else 0.0)
            group = self.group_of[pid]
            seconds[group] += delta
            if group == "other":
                by_name[proc.name] += delta
        self.share = CpuShare(seconds, by_name, busy / total if total else 0.0)
