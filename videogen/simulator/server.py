"""``SimulatorServer``: the simulator on a real socket, in a background thread.

Stdlib ``ThreadingHTTPServer`` with an HTTP/1.1 keep-alive handler: one thread per client
connection, so injected latency (a ``time.sleep`` in that thread) overlaps across connections,
and a pooled client reuses its sockets instead of paying a TCP handshake per poll. Each
response goes out in a single ``sendall`` with ``TCP_NODELAY`` so small answers never wait on
Nagle's algorithm. No Django anywhere on this path.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import Request, Response, SimulatorApp
from .catalog import Catalog
from .config import SimulatorConfig
from .faults import FaultInjector
from .payloads import API_PREFIX, error_body
from .state import JobStore
from .stats import Stats
from .webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "videogen-simulator/1"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        self.timeout = self.server.app.config.keepalive_timeout_seconds
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: it costs more than the request at benchmark rates."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        app = self.server.app
        raw_length = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            self.close_connection = True
            self._write(Response(400, error_body(400, "invalid Content-Length header")))
            return
        if length > app.config.max_body_bytes:
            # Never read an oversized body; answer and drop the connection instead.
            body = b""
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            content_length=length,
        )
        try:
            response = app.handle(request)
        except Exception:  # a bug in the simulator must still produce an HTTP answer
            logger.exception("videogen simulator: %s %s failed", self.command, path)
            self.server.app_errors += 1
            response = Response(500, error_body(500, "Internal Server Error (simulator bug)"))
        if response.reset:
            self._reset()
            return
        self._write(response)

    def _write(self, response: Response) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Length: {response.length}",
        ]
        if response.status != 204:
            lines.append(f"Content-Type: {response.content_type}")
        lines += [f"{name}: {value}" for name, value in response.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if response.stream is None:
            self.wfile.write(head + response.body)
            return
        self.wfile.write(head)
        for chunk in response.stream:
            self.wfile.write(chunk)

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a RST, not a FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many pooled clients connect at once; the stdlib default backlog of 5 drops SYNs.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: SimulatorApp) -> None:
        self.app = app
        self.app_errors = 0
        self._conns: set[socket.socket] = set()
        self._conn_threads: set[threading.Thread] = set()
        self._conns_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._conns_lock:
            self._conn_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conn_threads.discard(threading.current_thread())

    def track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def close_connections(self, timeout: float = 2.0) -> None:
        """Shut every open keep-alive connection and join the threads serving them."""
        with self._conns_lock:
            conns = list(self._conns)
            threads = list(self._conn_threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects mid-response are normal under fault injection: stay quiet."""


class SimulatorServer:
    """A running simulator: ``start()``/``stop()`` or ``with SimulatorServer(cfg) as sim:``.

    ``base_url`` is what a client uses as its API base (``http://127.0.0.1:PORT/api/v1``);
    ``state``, ``webhooks``, ``stats`` and ``config`` are live objects tests may poke.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.catalog = Catalog(self.config.models)
        self.state = JobStore()
        self.faults = FaultInjector(self.config)
        self.stats = Stats()
        self.webhooks = WebhookDispatcher(self.config, self.state, lambda: self.app.public_origin)
        self.app = SimulatorApp(
            config=self.config,
            catalog=self.catalog,
            state=self.state,
            faults=self.faults,
            stats=self.stats,
            webhooks=self.webhooks,
        )
        self._httpd: _HTTPServer | None = None
        self._origin = ""
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        """Bind (port 0 picks a free port), then serve and dispatch webhooks in daemon threads."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.config.host, self.config.port), self.app)
        self._origin = self._bound_origin()
        self.app.public_origin = (self.config.public_url or self._origin).rstrip("/")
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"videogen-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection, release the port and join the threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.webhooks.stop()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running")
        return self._httpd.server_address[1]

    def _bound_origin(self) -> str:
        host = self.config.host
        if host in ("", "0.0.0.0"):  # noqa: S104 - a wildcard bind, reached via loopback
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``http://host:port`` of the bound socket, where the control API lives."""
        if not self._origin:
            raise RuntimeError("the simulator has not been started")
        return self._origin

    @property
    def public_origin(self) -> str:
        """The origin of unsigned_urls: ``config.public_url`` or the bound socket."""
        return self.app.public_origin

    @property
    def base_url(self) -> str:
        """The API base a client is configured with, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        return f"{self.origin}{API_PREFIX}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    def url(self, path: str) -> str:
        """Absolute URL of an API path: ``url("/videos")`` -> ``<base_url>/videos``."""
        return f"{self.base_url}{path}"
