"""A local HTTP server standing in for the provider over real sockets: the tests that drive
the sweep (whose polls go through the event loop, ``provider/polling.py``, which
``responses`` does not see: it patches ``requests``) and the transport's own tests.

It answers registered ``GET`` paths with canned JSON, and any other ``GET /videos/<id>``
with an in-progress job of that id; it records each request's target and headers, and how
many it held at once; ``delay`` holds each answer back, ``set_cookie`` adds a cookie.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class CannedAPI:
    def __init__(self, *, delay: float = 0.0, set_cookie: str | None = None) -> None:
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.in_flight = self.most_in_flight = 0
        lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the provider

            def do_GET(self):
                with lock:
                    api.requests.append((self.path, dict(self.headers)))
                    api.in_flight += 1
                    api.most_in_flight = max(api.most_in_flight, api.in_flight)
                time.sleep(delay)
                with lock:
                    api.in_flight -= 1
                status, body = api.answer_to(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if set_cookie:
                    self.send_header("Set-Cookie", set_cookie)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = f"{self.origin}/api/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str, *, json_body: Any, status: int = 200) -> None:
        """Answer ``GET {base_url}{path}`` with ``json_body``."""
        self.answers[f"/api/v1{path}"] = (status, json.dumps(json_body).encode())

    def answer_to(self, target: str) -> tuple[int, bytes]:
        if target in self.answers:
            return self.answers[target]
        job_id = target.rsplit("/", 1)[-1]
        job = {"id": job_id, "polling_url": f"/api/v1/videos/{job_id}", "status": "in_progress"}
        return 200, json.dumps(job).encode()

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def unrequested(self) -> list[str]:
        return sorted(set(self.answers) - set(self.paths))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned_api_factory() -> Iterator[Callable[..., CannedAPI]]:
    started: list[CannedAPI] = []

    def start(**options: Any) -> CannedAPI:
        started.append(CannedAPI(**options))
        return started[-1]

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def canned_api(canned_api_factory) -> CannedAPI:
    return canned_api_factory()
