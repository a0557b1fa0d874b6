"""``manage.py videogen_simulator``: flags and environment, served until SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_command_serves_with_env_defaults_until_sigterm():
    port = free_port()
    env = {
        **os.environ,
        "VIDEOGEN_SIMULATOR_API_KEY": "sk-env-key",
        "VIDEOGEN_WEBHOOK_SECRETS": " ,whsec-first,whsec-second",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "videogen_simulator", "--port", str(port),
         "--pending-seconds", "0", "--processing-seconds", "0", "--latency", "0.05"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer sk-env-key"}
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(f"{base}/_simulator/config", headers=headers, timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        config = response.json()
        assert config["latency_seconds"] == 0.05
        assert config["pending_seconds"] == 0
        assert requests.get(f"{base}/api/v1/videos/models").status_code == 401
        assert requests.get(f"{base}/api/v1/videos/models", headers=headers).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert "serving http://127.0.0.1" in output
    assert "stopped" in output


def test_webhook_secret_comes_from_the_first_env_secret(monkeypatch):
    from videogen.management.commands.videogen_simulator import _default_webhook_secret

    monkeypatch.setenv("VIDEOGEN_WEBHOOK_SECRETS", " , whsec-a , whsec-b")
    assert _default_webhook_secret() == "whsec-a"
    monkeypatch.delenv("VIDEOGEN_WEBHOOK_SECRETS")
    assert _default_webhook_secret() == "whsec-simulator"
