"""The benchmarks' CPU meter: what a process that lives for one request costs is counted."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.harness.measure import CpuMeter

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_child_that_exits_between_samples_counts_in_its_parents_group():
    """A PostgreSQL backend with CONN_MAX_AGE 0 lives for one request, seldom long enough to
    be sampled: its CPU is found in what its parent reaped. Here the parent is this process."""
    this = os.getpid()
    groups = {"children": lambda p: p.ppid == this}
    with CpuMeter(groups, interval=60, reaped={"children": lambda p: p.pid == this}) as meter:
        subprocess.run([sys.executable, "-c", BURN], check=True)
    assert meter.share.seconds["children"] >= 0.25

    with CpuMeter(groups, interval=60) as unreaped:
        subprocess.run([sys.executable, "-c", BURN], check=True)
    assert unreaped.share.seconds["children"] < 0.1  # never sampled: the reason for ``reaped``
