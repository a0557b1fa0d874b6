"""The command line every benchmark spells the same way, and its progress lines."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.harness.writer import DOCS, Section, write_section


def log(message: str = "") -> None:
    """Print a progress line at once (runs last minutes, often into a log file)."""
    print(message, flush=True)


def parser(doc: str, *, postgres: bool = False) -> argparse.ArgumentParser:
    """A parser described by the script's docstring ``doc`` (its first paragraph, then the
    rest under the options), with the options every script has: ``--no-docs`` and ``--docs``;
    with ``postgres``, ``--database`` and ``--keep-db`` too."""
    summary, _, rest = doc.strip().partition("\n\n")
    p = argparse.ArgumentParser(
        description=summary,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--no-docs", action="store_true", help="print only; leave the docs alone")
    p.add_argument(
        "--docs", type=Path, default=DOCS, help="markdown file whose section is replaced"
    )
    if postgres:
        p.add_argument(
            "--database",
            help="the database to create and drop (default: the one DATABASE_URL names if "
            "its name contains 'bench', else videogen_bench_<script>)",
        )
        p.add_argument("--keep-db", action="store_true", help="leave the database behind")
    return p


def reproduce_command(command: str, argv: list[str] | None = None) -> str:
    """``command`` followed by the options this run was given (``argv``, else
    ``sys.argv[1:]``) but ``--docs``/``--no-docs``, so that the docs show what ran."""
    given = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for arg in given:
        if skip:
            skip = False
        elif arg == "--docs":
            skip = True
        elif arg != "--no-docs" and not arg.startswith("--docs="):
            kept.append(arg)
    return " ".join([command, *map(shlex.quote, kept)])


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` so that ``finally`` blocks (stop the processes,
    drop the database) run when the benchmark is killed."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def publish(section: Section, args: argparse.Namespace) -> None:
    """Print the section's summary (the verdicts), then write it into ``args.docs`` unless
    ``--no-docs``."""
    log()
    log("\n\n".join(b for b in section.summary if isinstance(b, str)))
    if not args.no_docs:
        write_section(section, args.docs)
        log(f"wrote {section.heading!r} into {args.docs}")
