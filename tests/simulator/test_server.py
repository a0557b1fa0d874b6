"""The socket side: keep-alive HTTP/1.1, body limits, clean start/stop, throughput."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

from videogen.simulator import SimulatorConfig, SimulatorServer
from videogen.simulator.config import MAX_BODY_BYTES


def auth(sim):
    return {"Authorization": f"Bearer {sim.api_key}"}


def test_base_url_and_port(simulator):
    assert simulator.running
    assert simulator.base_url == f"http://127.0.0.1:{simulator.port}/api/v1"
    assert simulator.url("/videos") == f"{simulator.base_url}/videos"


def test_connections_are_kept_alive(simulator):
    conn = http.client.HTTPConnection("127.0.0.1", simulator.port, timeout=5)
    conn.request("GET", "/api/v1/videos/models", headers=auth(simulator))
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    conn.request("GET", "/api/v1/videos/job-x", headers=auth(simulator))
    second = conn.getresponse()
    second.read()

    assert first.version == 11 and first.status == 200
    assert second.status == 404
    assert conn.sock is sock  # same TCP connection for both requests
    conn.close()


def raw_request(port: int, head: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(body) < length:
            body += sock.recv(65536)
        return int(header.split()[1]), body


def test_body_over_50_mib_is_413_without_reading_it(simulator, openrouter_schema):
    head = (
        "POST /api/v1/videos HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {simulator.api_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    status, body = raw_request(simulator.port, head)

    assert status == 413
    openrouter_schema(json.loads(body), "PayloadTooLargeResponse")


def test_body_limit_is_configurable(simulator, simulator_session):
    simulator.config.max_body_bytes = 100
    response = simulator_session.post(
        simulator.url("/videos"), json={"model": "openai/sora-2", "prompt": "x" * 200}
    )
    assert response.status_code == 413
    assert len(simulator.state) == 0


def test_invalid_content_length_is_400(simulator):
    head = b"POST /api/v1/videos HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    status, body = raw_request(simulator.port, head)
    assert status == 400
    assert json.loads(body)["error"]["code"] == 400


def test_stop_releases_the_port_and_threads(simulator_config):
    server = SimulatorServer(simulator_config).start()
    port = server.port
    session = requests.Session()
    session.get(server.url("/videos/models"), headers=auth(server))  # an idle keep-alive conn
    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 2
    assert not server.running
    names = [t.name for t in threading.enumerate()]
    assert not any(n.startswith("videogen-simulator") for n in names)
    session.close()
    server.stop()  # idempotent
    simulator_config.port = port
    with SimulatorServer(simulator_config) as again:  # the port is free again
        assert requests.get(again.url("/videos/models"), headers=auth(again)).ok


def test_context_manager_on_a_fixed_port(simulator_config):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    simulator_config.port = port
    with SimulatorServer(simulator_config) as server:
        assert server.port == port
        assert requests.get(server.url("/videos/models"), headers=auth(server)).ok
    assert not server.running


def test_public_url_sets_the_origin_of_unsigned_urls(simulator_factory):
    sim = simulator_factory(public_url="https://sim.example.test/")
    assert sim.base_url == f"http://127.0.0.1:{sim.port}/api/v1"  # clients here use the socket
    job = requests.post(
        sim.url("/videos"), json={"model": "openai/sora-2", "prompt": "x"}, headers=auth(sim)
    ).json()
    sim.state.set_status(job["id"], "completed")
    body = requests.get(sim.url(f"/videos/{job['id']}"), headers=auth(sim)).json()
    assert body["unsigned_urls"] == [
        f"https://sim.example.test/api/v1/videos/{job['id']}/content?index=0"
    ]


def test_polls_overlap_under_latency():
    """64 pooled connections x 100 ms latency: ~640 polls/s is the ceiling; demand 256/s."""
    config = SimulatorConfig(pending_seconds=60, processing_seconds=60, latency_seconds=0.1)
    with SimulatorServer(config) as sim, requests.Session() as session:
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=64))
        session.headers.update(auth(sim))
        sim.config.latency_seconds = 0
        job_id = session.post(
            sim.url("/videos"), json={"model": "openai/sora-2", "prompt": "x"}
        ).json()["id"]
        sim.config.latency_seconds = 0.1

        def poll(_):
            return session.get(sim.url(f"/videos/{job_id}")).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(64) as pool:
            statuses = list(pool.map(poll, range(640)))
        elapsed = time.monotonic() - started

    assert statuses == [200] * 640
    assert elapsed < 2.5, f"640 polls took {elapsed:.2f}s"


def test_serving_path_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, videogen.simulator.server; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
