"""docs/benchmarks.md, one section per script: ``Section`` renders it (summary, host, tables
and notes, the command that reproduces it) and ``write_section`` replaces that section of the
file in place, leaving every other section as it is."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT
from bench.harness.host import Host

DOCS = ROOT / "docs" / "benchmarks.md"
PREAMBLE = (
    "# Benchmarks\n\n"
    "Measurements of videogen, one section per benchmark script; bench/README.md says how "
    "to run each and how its figures relate to the issues' targets.\n"
)
_ALIGN = {"l": "---", "r": "---:", "c": ":-:"}


@dataclass
class Table:
    """A markdown table: ``align`` has one letter per column (``l``, ``r`` or ``c``); by
    default the first column is left-aligned and the others right-aligned."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    align: str = ""
    caption: str = ""  # a line above the table, e.g. "**As migrated** (…):"

    @classmethod
    def of(
        cls,
        items: Iterable[Any],
        columns: Sequence[tuple[str, str, Callable[[Any], object]]],
        caption: str = "",
    ) -> Table:
        """A row per item; each column is ``(header, align letter, its cell for an item)``."""
        rows = [[cell(item) for _, _, cell in columns] for item in items]
        return cls([h for h, _, _ in columns], rows, "".join(a for _, a, _ in columns), caption)

    def render(self) -> str:
        align = self.align or "l" + "r" * (len(self.header) - 1)
        if len(align) != len(self.header):
            raise ValueError(f"align {align!r} does not match {len(self.header)} columns")
        lines = [self.caption, ""] if self.caption else []
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join(_ALIGN[a] for a in align) + "|")
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"row {row!r} does not match {len(self.header)} columns")
            lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
        return "\n".join(lines)


Block = str | Table  # a paragraph or a list of "- " lines, or a table


@dataclass
class Section:
    """One benchmark's section: ``summary`` (the target, the verdict, the ratio to the
    physical limit), the host line, ``body`` (tables and notes), then the command."""

    title: str  # "Reconciler"
    script: str  # "bench/reconcile.py"
    command: str
    host: Host | str  # a str only for figures measured before the harness recorded hosts
    summary: list[Block] = field(default_factory=list)
    body: list[Block] = field(default_factory=list)
    reproduce_note: str = ""  # "≈ 2 minutes; drops and re-creates its database"

    @property
    def heading(self) -> str:
        return f"## {self.title} ({self.script})"

    def render(self) -> str:
        host = self.host if isinstance(self.host, str) else self.host.markdown()
        blocks = [self.heading, *self.summary, host, *self.body]
        note = f" ({self.reproduce_note})" if self.reproduce_note else ""
        blocks.append(f"Reproduce{note}:\n\n```sh\n{self.command}\n```")
        return "\n\n".join(b.render() if isinstance(b, Table) else b.strip("\n") for b in blocks)


def replace_section(text: str, heading: str, section: str) -> str:
    """``text`` with the section that starts at the line ``heading`` replaced by ``section``
    (up to the next ``## `` heading outside a code block), or with ``section`` appended."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        return text.rstrip("\n") + "\n\n" + section.strip("\n") + "\n"
    end, fenced = len(lines), False
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("```"):
            fenced = not fenced
        elif not fenced and lines[i].startswith("## "):
            end = i
            break
    head = "\n".join(lines[:start])
    tail = "\n".join(lines[end:])
    parts = [p for p in (head.rstrip("\n"), section.strip("\n"), tail.strip("\n")) if p]
    return "\n\n".join(parts) + "\n"


def write_section(section: Section, path: Path = DOCS) -> None:
    """Render ``section`` into ``path`` in place of its previous version. The file is read
    right before it is replaced (atomically), since several benchmarks write it."""
    current = path.read_text() if path.exists() else PREAMBLE
    updated = replace_section(current, section.heading, section.render())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(updated)
    os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    os.replace(tmp, path)
