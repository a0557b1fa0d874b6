"""Each benchmark script runs as a file and answers ``--help`` (the benchmarks themselves
never run in the test suite: they take minutes and need PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_script_is_listed():
    assert {
        "api_fuzz.py",
        "download.py",
        "money_truth.py",
        "reconcile.py",
        "report.py",
        "webhook_fuzz.py",
        "webhooks.py",
    } <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_the_benchmark_and_its_common_options(script):
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},  # no DATABASE_URL: --help needs none
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ")
    assert "--no-docs" in result.stdout
    assert "--docs" in result.stdout
    assert "Target" in result.stdout
    assert "Physical limit" in result.stdout
