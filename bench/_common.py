"""What the benchmark scripts share: Django and database setup, machine facts, the docs file,
helper processes.

The scripts run as files (``.venv/bin/python bench/<name>.py``), so each puts the repository
root on ``sys.path`` before it imports this module as ``bench._common``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_PREAMBLE = "# Benchmarks\n\nMeasurements of videogen, one section per benchmark script.\n"
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def log(message: str = "") -> None:
    """Print a progress line at once (the scripts run for minutes, often into a log file)."""
    print(message, flush=True)


# --- command line ---------------------------------------------------------------------------


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of the script's docstring ``doc``."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def add_output_arguments(
    parser: argparse.ArgumentParser, *, docs_file: bool = False, keep_db: bool = False
) -> None:
    """``--no-docs`` and, when asked, ``--docs PATH`` (default ``docs/benchmarks.md``) and
    ``--keep-db``, as every script spells them."""
    parser.add_argument("--no-docs", action="store_true", help="print only")
    if docs_file:
        parser.add_argument("--docs", type=Path, default=DOCS, help="markdown file to update")
    if keep_db:
        parser.add_argument("--keep-db", action="store_true", help="leave the database behind")


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` so that ``finally`` blocks (stop the helper
    processes, drop the database) run when the benchmark is killed."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- database -------------------------------------------------------------------------------


def bench_database_url(command: str, name: str | None = None) -> tuple[str, str]:
    """``(url, database name)`` from ``DATABASE_URL``, with its database name replaced by
    ``name`` when given; exits (showing ``command`` as an example) unless the URL is
    PostgreSQL's and the name contains "bench", since the scripts drop that database."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if name is None:
        name = parts.path.lstrip("/")
        if parts.scheme not in POSTGRES_SCHEMES or not name:
            sys.exit(f"DATABASE_URL must point at PostgreSQL, e.g.\n  {command}")
    else:
        if parts.scheme not in POSTGRES_SCHEMES:
            sys.exit(f"DATABASE_URL must point at a PostgreSQL server, e.g.\n  {command}")
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    if "bench" not in name:
        sys.exit(f"refusing to drop and re-create {name!r}: use a database named like *bench*")
    return url, name


def _drop_and_create(url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    database = sql.Identifier(parts.path.lstrip("/"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(database))


def recreate_database(url: str) -> None:
    """Drop the PostgreSQL database named in ``url`` (closing its connections) and create
    it empty, through the server's ``postgres`` database."""
    _drop_and_create(url, create=True)


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database named in ``url`` if it exists (closing its connections)."""
    _drop_and_create(url, create=False)


def setup_django(
    database_url: str | None = None, *, production: bool = True, migrate: bool = True
) -> None:
    """``django.setup()`` with ``project.settings`` (on ``database_url`` when given, else on
    ``DATABASE_URL`` as it is), then ``migrate`` unless told not to.

    ``production``: ``DJANGO_DEBUG=0`` unless set (no per-query log, as in production) and a
    random ``DJANGO_SECRET_KEY`` unless set (required without DEBUG). django-q's INFO line
    per enqueued task is silenced.
    """
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    if production:
        os.environ.setdefault("DJANGO_DEBUG", "0")
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


# --- the machine ----------------------------------------------------------------------------


def cpu_model(default: str = "unknown") -> str:
    """The first ``model name`` of ``/proc/cpuinfo``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return default


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def load_average(separator: str = " / ") -> str:
    """The 1, 5 and 15 minute load averages as ``/proc/loadavg`` prints them, or "?"."""
    try:
        return separator.join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


@dataclass
class Machine:
    cpus: int
    cpu_model: str
    postgres: str
    python: str
    django: str
    load_before: str = ""  # load_average() when machine_info() ran
    load_after: str = ""  # set by the script at the end of its run
    pg_settings: dict[str, str] = field(default_factory=dict)


def machine_info(*, pg_settings: Iterable[str] = (), load_separator: str = " / ") -> Machine:
    """CPUs, CPU model, PostgreSQL's ``server_version`` (and the ``SHOW`` value of each of
    ``pg_settings``) over Django's default connection, Python and Django versions, load."""
    import django
    from django.db import connection

    settings = {}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        for name in pg_settings:
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return Machine(
        cpus=usable_cpus(),
        cpu_model=cpu_model(),
        postgres=postgres,
        python=platform.python_version(),
        django=django.get_version(),
        load_before=load_average(load_separator),
        pg_settings=settings,
    )


# --- docs/benchmarks.md ---------------------------------------------------------------------


def write_docs_section(heading: str, markdown: str, path: Path = DOCS) -> None:
    """Replace the section of ``path`` that starts with the line ``heading`` (``## …``) by
    ``markdown`` (which starts with that line), up to the next ``## `` heading, or append it;
    the other sections stay as they are. The file is read right before it is written, since
    several benchmarks write it."""
    current = path.read_text() if path.exists() else DOCS_PREAMBLE
    start = current.find(heading)
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + markdown
    else:
        end = current.find("\n## ", start + len(heading))
        tail = current[end + 1 :] if end != -1 else ""
        updated = current[:start] + markdown + ("\n" + tail if tail else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated.rstrip("\n") + "\n")


def reproduce(note: str, command: str) -> list[str]:
    """The closing lines of a section: "Reproduce (``note``):" and ``command`` in a sh block."""
    return [f"Reproduce ({note}):", "", "```sh", command, "```", ""]


# --- helper processes -----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(
    cmd: list[str],
    *,
    name: str,
    env: dict[str, str],
    log_file: IO[bytes],
    ready: Callable[[], bool],
    log_tail: Callable[[], str],
    timeout: float = 30.0,
) -> subprocess.Popen:
    """Start ``cmd`` in the repository root, in a session of its own, its output into
    ``log_file``; return once ``ready()`` is true (an exception counts as not yet). Raises
    ``RuntimeError`` with ``log_tail()`` (after stopping it) if it exits or is not ready
    within ``timeout`` seconds."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_tail()}")
        with contextlib.suppress(Exception):
            if ready():
                return proc
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s:\n{log_tail()}")


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM ``proc`` (from ``start_process``) and wait; after ``timeout`` seconds SIGKILL
    its whole session (a server's workers too)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
