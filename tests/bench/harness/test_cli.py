"""bench/harness/cli.py: the recorded command is the one that ran."""

from __future__ import annotations

from bench.harness.cli import reproduce_command

BASE = ".venv/bin/python bench/reconcile.py"


def test_the_recorded_command_keeps_the_options_that_ran_but_not_where_the_docs_went():
    argv = ["--sizes", "60", "120", "--docs", "/tmp/b.md", "--no-docs", "--docs=/tmp/c.md"]

    assert reproduce_command(BASE, argv) == f"{BASE} --sizes 60 120"


def test_a_full_size_run_records_the_bare_command():
    assert reproduce_command(BASE, []) == BASE


def test_arguments_are_quoted_for_the_shell():
    argv = ["--overrides", '{"STORE_OUTPUTS": false}']

    assert reproduce_command(BASE, argv) == f"{BASE} --overrides '{{\"STORE_OUTPUTS\": false}}'"
