"""bench/harness/writer.py: a benchmark's section of docs/benchmarks.md is replaced in place,
and every other section is kept byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.harness.host import Host
from bench.harness.writer import PREAMBLE, Section, Table, write_section

OTHERS = """# Benchmarks

Intro line.

## Output downloads (bench/download.py)

Old download figures: 1.9 MiB.

## Reconciler (bench/reconcile.py)

Old reconciler figures: 1,005 polls/s.

```sh
## a shell comment that looks like a heading
DATABASE_URL=... .venv/bin/python bench/reconcile.py
```

Still the reconciler's section.

## Webhooks (bench/webhooks.py)

Old webhook figures: 306/s.
"""


def reconciler_section(figure: str) -> Section:
    return Section(
        title="Reconciler",
        script="bench/reconcile.py",
        command=".venv/bin/python bench/reconcile.py --sizes 10",
        host="**Host:** a test host.",
        summary=[f"New reconciler figures: {figure}."],
        body=[Table(["N", "polls/s"], [["10", figure]], caption="**Runs:**")],
        reproduce_note="a few seconds",
    )


def test_writing_a_section_replaces_it_and_keeps_the_others(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(OTHERS)

    write_section(reconciler_section("999"), docs)

    text = docs.read_text()
    assert "Old reconciler figures" not in text
    assert "Still the reconciler's section" not in text
    assert "## a shell comment" not in text  # the section's code block went with it
    assert text.count("## Reconciler (bench/reconcile.py)") == 1
    before, _, after = OTHERS.partition("## Reconciler")
    assert text.startswith(before)
    assert text.endswith("## Webhooks" + after.partition("## Webhooks")[2])
    reconciler = text.split("## Reconciler (bench/reconcile.py)")[1].split("## Webhooks")[0]
    assert "New reconciler figures: 999." in reconciler
    assert "| N | polls/s |\n|---|---:|\n| 10 | 999 |" in reconciler
    assert (
        "Reproduce (a few seconds):\n\n```sh\n.venv/bin/python bench/reconcile.py --sizes 10\n```"
        in reconciler
    )


def test_writing_the_same_section_twice_leaves_one_copy(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(OTHERS)

    write_section(reconciler_section("1"), docs)
    write_section(reconciler_section("2"), docs)

    text = docs.read_text()
    assert text.count("## Reconciler (bench/reconcile.py)") == 1
    assert "New reconciler figures: 2." in text
    assert "New reconciler figures: 1." not in text
    assert "Old download figures: 1.9 MiB." in text
    assert "Old webhook figures: 306/s." in text


def test_a_new_section_is_appended_and_a_missing_file_is_created(tmp_path):
    docs = tmp_path / "docs" / "benchmarks.md"

    write_section(reconciler_section("7"), docs)

    text = docs.read_text()
    assert text.startswith(PREAMBLE)
    assert text.rstrip().endswith("```")
    assert "New reconciler figures: 7." in text


def test_a_heading_that_only_starts_like_the_section_is_not_replaced(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Reconciler (bench/reconcile.py) at scale\n\nKept.\n")

    write_section(reconciler_section("3"), docs)

    text = docs.read_text()
    assert "## Reconciler (bench/reconcile.py) at scale\n\nKept." in text
    assert "New reconciler figures: 3." in text


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="does not match 2 columns"):
        Table(["N", "polls/s"], [["10"]]).render()


def test_a_table_built_from_columns_pairs_each_header_with_its_cell():
    table = Table.of(
        [3, 4],
        [
            ("n", "r", lambda n: n),
            ("square", "r", lambda n: n * n),
            ("even", "c", lambda n: n % 2 == 0),
        ],
    )

    assert table.render() == (
        "| n | square | even |\n|---:|---:|:-:|\n| 3 | 9 | False |\n| 4 | 16 | True |"
    )


def test_a_section_names_the_host_it_ran_on(tmp_path):
    docs = tmp_path / "benchmarks.md"
    section = reconciler_section("5")
    section.host = Host(
        hostname="bench-box",
        cpus=2,
        cpu_model="AMD EPYC",
        memory_gib=23.5,
        os="Linux 6.18 (x86_64)",
        python="3.11.7",
        versions={"Django": "5.2.19"},
        postgres="15.20",
        started=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
        load_start="1.00 / 0.50 / 0.25",
        load_end="2.00 / 1.00 / 0.50",
    )

    write_section(section, docs)

    host = next(line for line in docs.read_text().splitlines() if line.startswith("**Host:**"))
    assert "`bench-box`, 2 CPUs (AMD EPYC), 23.5 GiB of memory, Linux 6.18 (x86_64)" in host
    assert "Python 3.11.7, Django 5.2.19, PostgreSQL 15.20" in host
    assert "Measured 2026-12-02 09:30 UTC" in host
    assert "1.00 / 0.50 / 0.25 at the start, 2.00 / 1.00 / 0.50 at the end" in host
