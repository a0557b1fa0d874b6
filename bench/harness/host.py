"""The machine a benchmark ran on: printed when a run starts and written into its section,
so that figures from different machines are not confused."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path


def cpu_model() -> str:
    """The first ``model name`` of ``/proc/cpuinfo``, else the platform's processor."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return None


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, ``"1.26 / 2.59 / 3.26"``, or ``"?"``."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


@dataclass
class Host:
    hostname: str
    cpus: int
    cpu_model: str
    memory_gib: float | None
    os: str
    python: str
    versions: dict[str, str]  # Django first, then the packages a script names
    postgres: str | None = None
    pg_settings: dict[str, str] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_start: str = field(default_factory=load_average)
    load_end: str = ""

    @classmethod
    def collect(
        cls,
        *,
        packages: Iterable[str] = (),
        database: bool = False,
        pg_settings: Iterable[str] = (),
    ) -> Host:
        """This machine; with ``database``, the PostgreSQL server of Django's default
        connection too (its version and the ``SHOW`` value of each of ``pg_settings``)."""
        versions = {}
        for name in ("Django", *packages):
            with contextlib.suppress(metadata.PackageNotFoundError):
                versions[name] = metadata.version(name)
        host = cls(
            hostname=socket.gethostname(),
            cpus=usable_cpus(),
            cpu_model=cpu_model(),
            memory_gib=memory_gib(),
            os=f"{platform.system()} {platform.release()} ({platform.machine()})",
            python=platform.python_version(),
            versions=versions,
        )
        if database:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                host.postgres = cursor.fetchone()[0]
                for name in pg_settings:
                    cursor.execute(f"SHOW {name}")
                    host.pg_settings[name] = cursor.fetchone()[0]
        return host

    def finish(self) -> None:
        """Note the load average at the end of the run."""
        self.load_end = load_average()

    def _software(self) -> list[str]:
        parts = [f"Python {self.python}", *(f"{k} {v}" for k, v in self.versions.items())]
        if self.postgres:
            settings = ", ".join(f"`{k}` = {v}" for k, v in self.pg_settings.items())
            parts.append(f"PostgreSQL {self.postgres}" + (f" ({settings})" if settings else ""))
        return parts

    def line(self) -> str:
        """One line for the console."""
        memory = f"{self.memory_gib:.1f} GiB, " if self.memory_gib else ""
        return (
            f"host {self.hostname}: {self.cpus} CPUs ({self.cpu_model}), {memory}{self.os}; "
            + ", ".join(self._software())
            + f"; load average {self.load_start}"
        )

    def markdown(self) -> str:
        """The section's host paragraph."""
        memory = f", {self.memory_gib:.1f} GiB of memory" if self.memory_gib else ""
        load = f"load average (1 / 5 / 15 min) {self.load_start} at the start"
        if self.load_end:
            load += f", {self.load_end} at the end"
        return (
            f"**Host:** `{self.hostname}`, {self.cpus} CPUs ({self.cpu_model}){memory}, "
            f"{self.os}; {', '.join(self._software())}. Measured "
            f"{self.started:%Y-%m-%d %H:%M} UTC; {load}. Anything else running on the machine "
            "slows the figures down."
        )
