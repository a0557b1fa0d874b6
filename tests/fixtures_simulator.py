"""Pytest fixtures for the OpenRouter simulator (registered as a plugin by tests/conftest.py).

- ``simulator_config``: the ``SimulatorConfig`` the ``simulator`` fixture starts with (fast
  timings); override the fixture, or mutate it in a test before requesting ``simulator``.
- ``simulator``: a running in-process ``SimulatorServer`` on a free port, stopped after.
- ``simulator_session``: a ``requests.Session`` with the simulator's bearer key.
- ``simulator_factory``: ``simulator_factory(**config_overrides)`` for more than one server.
- ``webhook_receiver``: a tiny local HTTP server that records what it is sent.
- ``openrouter_schema``: ``openrouter_schema(instance, "VideoGenerationResponse")`` validates
  against the vendored OpenAPI spec (``$ref``s resolved), raising on a mismatch.
No database is touched by any of these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from videogen.simulator import SimulatorConfig, SimulatorServer

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "openrouter-openapi.yaml"
SPEC_URI = "urn:openrouter-openapi"


def fast_config(**overrides: Any) -> SimulatorConfig:
    """A config whose jobs finish in ~0.15 s and whose webhooks retry within ~0.1 s."""
    values: dict[str, Any] = {
        "pending_seconds": 0.05,
        "processing_seconds": 0.1,
        "webhook_backoff_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.2,
        "webhook_timeout_seconds": 2.0,
        "keepalive_timeout_seconds": 5.0,
        "seed": 1234,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return fast_config()


@pytest.fixture
def simulator(simulator_config: SimulatorConfig) -> Iterator[SimulatorServer]:
    with SimulatorServer(simulator_config) as server:
        yield server


@pytest.fixture
def simulator_session(simulator: SimulatorServer) -> Iterator[requests.Session]:
    """A keep-alive ``requests.Session`` carrying the simulator's bearer key."""
    with requests.Session() as session:
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {simulator.api_key}"
        yield session


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., SimulatorServer]]:
    servers: list[SimulatorServer] = []

    def make(**overrides: Any) -> SimulatorServer:
        server = SimulatorServer(fast_config(**overrides)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


# --- webhook receiver ------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float


class WebhookReceiver:
    """Records every POST; answers with ``statuses`` in order, then ``default_status``."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.requests.append(
                        ReceivedRequest(self.path, dict(self.headers.items()), body, time.time())
                    )
                    status = (
                        receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/openrouter/"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait until ``count`` requests arrived; return them all (fails the test on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"webhook receiver got {len(self.requests)} of {count} requests")
                self._cond.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


# --- OpenAPI schema validation ----------------------------------------------------------------
@pytest.fixture(scope="session")
def openrouter_schema() -> Callable[[Any, str], None]:
    import yaml
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as fh:
        spec = yaml.load(fh, Loader=loader)
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validators: dict[str, Any] = {}

    def validate(instance: Any, schema_name: str) -> None:
        if schema_name not in spec["components"]["schemas"]:
            raise KeyError(f"no schema {schema_name!r} in the spec")
        validator = validators.get(schema_name)
        if validator is None:
            ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
            validator = validators[schema_name] = OAS31Validator(ref, registry=registry)
        validator.validate(instance)

    return validate
