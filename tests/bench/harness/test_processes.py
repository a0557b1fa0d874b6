"""bench/harness/processes.py: servers a benchmark starts stay in the BENCH_PORTS range."""

from __future__ import annotations

import socket

import pytest

from bench.harness.processes import free_port


def test_ports_come_from_the_bench_ports_range_and_are_not_handed_out_twice(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = sock.getsockname()[1]
    monkeypatch.setenv("BENCH_PORTS", f"{base}-{base + 40}")

    ports = [free_port(), free_port()]

    assert all(base <= port <= base + 40 for port in ports)
    assert ports[0] != ports[1]


def test_a_full_range_says_so(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        busy = sock.getsockname()[1]
        monkeypatch.setenv("BENCH_PORTS", f"{busy}-{busy}")

        with pytest.raises(SystemExit, match="no free port in BENCH_PORTS"):
            free_port()
