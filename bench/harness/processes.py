"""The processes a benchmark starts, each in a session of its own with its output in a
temporary log, always stopped (the whole group) when the ``with`` block ends:

- ``Simulator``: ``manage.py videogen_simulator``, driven through its control API;
- ``Site``: the demo site (``project.wsgi``) under gunicorn, or ``manage.py runserver``;
- ``Qcluster``: ``manage.py qcluster``.

Ports come from ``BENCH_PORTS`` (``18400-18499``) when it is set, so that benchmarks on a
shared machine stay in their own range, else from the OS.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from bench.harness import ROOT

API_KEY = "sk-or-simulator"
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (and not handed out before by this
    process), from the ``BENCH_PORTS`` range when set."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high or low) + 1) if low else [0] * 20
    for candidate in candidates:
        if candidate in _handed_out:
            continue
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", candidate))
            port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    sys.exit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def http_status(port: int, path: str = "/", timeout: float = 2.0) -> int | None:
    """The status code of ``GET path`` on 127.0.0.1:``port``, or None if nothing answers."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            head = sock.recv(64).split(b" ", 2)
            return int(head[1]) if len(head) > 1 and head[0].startswith(b"HTTP/") else None
    except (OSError, ValueError):
        return None


def manage(*args: object) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *map(str, args)]


def django_env(*, drop: Iterable[str] = (), **values: object) -> dict[str, str]:
    """This process's environment (``setup_django`` has put the shared secret key and the
    database URL there) with ``project.settings``, ``values`` set and ``drop`` removed."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"}
    env.update({k: str(v) for k, v in values.items()})
    for name in drop:
        env.pop(name, None)
    return env


class Process:
    """``cmd`` in the repository root, in a new session, stdout and stderr into a temporary
    log; ``start()`` returns once ``ready()`` is true (an exception counts as not yet)."""

    def __init__(
        self, name: str, cmd: list[str], *, env: dict[str, str] | None = None, timeout=30.0
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env if env is not None else django_env()
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"videogen-{name}-", suffix=".log")  # noqa: SIM115 (closed in stop)

    def ready(self) -> bool:
        return True

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"{self.name} exited early:\n{tail}")
            with contextlib.suppress(Exception):
                if self.ready():
                    return self
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"{self.name} did not get ready within {self.timeout:.0f} s:\n{tail}")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole session (a server's workers too), SIGKILL what is left after
        ``grace`` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and _group_alive(proc):
                    time.sleep(0.05)
                if not _group_alive(proc):
                    break
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the leader, so that it does not linger as a zombie
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


class Simulator(Process):
    """The OpenRouter simulator in its own process (so that its GIL is not the app's)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        pending_seconds: float = 0.0,
        processing_seconds: float = 0.0,
        api_key: str = API_KEY,
    ) -> None:
        import requests

        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.origin}/api/v1"
        self.api_key = api_key
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        cmd = manage(
            "videogen_simulator",
            *("--port", self.port, "--api-key", api_key, "--latency", latency),
            *("--pending-seconds", pending_seconds, "--processing-seconds", processing_seconds),
        )
        super().__init__("simulator", cmd, env=django_env(drop=["DATABASE_URL"]))

    def ready(self) -> bool:
        return self.session.get(f"{self.origin}/_simulator/config", timeout=1).ok

    def stop(self, grace: float = 10.0) -> None:
        self.session.close()
        super().stop(grace)

    def configure(self, **patch: Any) -> None:
        """``POST /_simulator/config``: e.g. ``latency_seconds=0.1``."""
        self.session.post(
            f"{self.origin}/_simulator/config", json=patch, timeout=10
        ).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.session.get(f"{self.origin}/_simulator/stats", timeout=10)
        response.raise_for_status()
        return response.json()

    def reset_stats(self) -> None:
        self.session.delete(f"{self.origin}/_simulator/stats", timeout=10).raise_for_status()

    def submit(self, bodies: list[dict[str, Any]], threads: int = 16) -> list[dict[str, Any]]:
        """POST each body to ``/videos`` (``threads`` at a time) and return the 202 bodies."""
        from concurrent.futures import ThreadPoolExecutor

        import requests
        from requests.adapters import HTTPAdapter

        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(pool_maxsize=threads))
            session.headers["Authorization"] = f"Bearer {self.api_key}"

            def post(body: dict[str, Any]) -> dict[str, Any]:
                response = session.post(f"{self.base_url}/videos", json=body, timeout=30)
                response.raise_for_status()
                return response.json()

            with ThreadPoolExecutor(threads) as pool:
                return list(pool.map(post, bodies))


class Site(Process):
    """The demo site, ``project.wsgi``: under gunicorn (``worker_class`` ``sync`` or
    ``gthread``, ``workers`` × ``threads``), or ``manage.py runserver --noreload`` with
    ``server="runserver"``. Ready once ``ready_path`` answers (any status)."""

    def __init__(
        self,
        *,
        server: str = "gunicorn",
        workers: int = 2,
        worker_class: str = "sync",
        threads: int = 1,
        env: dict[str, str] | None = None,
        ready_path: str = "/",
    ) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        if server == "runserver":
            cmd = manage("runserver", f"127.0.0.1:{self.port}", "--noreload")
        elif server == "gunicorn":
            cmd = [str(Path(sys.executable).parent / "gunicorn"), "project.wsgi"]
            cmd += ["-w", str(workers), "-k", worker_class, "-b", f"127.0.0.1:{self.port}"]
            cmd += ["--log-level", "warning"]
            if worker_class == "gthread":
                cmd += ["--threads", str(threads)]
        else:
            raise ValueError(f"server must be gunicorn or runserver, not {server!r}")
        super().__init__(server, cmd, env=env)

    def ready(self) -> bool:
        return http_status(self.port, self.ready_path) is not None

    def stop(self, grace: float = 15.0) -> None:
        super().stop(grace)


class Qcluster(Process):
    """``manage.py qcluster`` (django-q2's workers); ready once it logs "running"."""

    def __init__(self, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        super().__init__("qcluster", manage("qcluster"), env=env, timeout=timeout)

    def ready(self) -> bool:
        return re.search(r"Q Cluster .* running", self.log_tail(20000)) is not None
