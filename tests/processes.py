"""Child processes for end-to-end tests: ``manage.py`` commands in their own process group,
output captured to a file, always stopped (the whole group) by the test's finalizer.

Also ``database_url()``: the ``DATABASE_URL`` of the database this test process is connected
to (the test database), so a child process opens the same one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent


def database_url(settings_dict: Mapping | None = None) -> str:
    """A ``postgres://`` URL for ``settings_dict`` (default: the live, i.e. test, database)."""
    sd = settings_dict or connection.settings_dict
    if not sd["ENGINE"].endswith("postgresql"):
        raise ValueError(f"not a PostgreSQL database: {sd['ENGINE']}")
    auth = quote(sd.get("USER") or "", safe="")
    if sd.get("PASSWORD"):
        auth += ":" + quote(sd["PASSWORD"], safe="")
    # An empty HOST means the default Unix socket; dj_database_url takes a %-encoded path.
    host = quote(sd.get("HOST") or "localhost", safe="")
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    return f"postgres://{auth + '@' if auth else ''}{host}{port}/{quote(sd['NAME'], safe='')}"


class ManagedProcess:
    """``python manage.py <args>`` in a new session (own process group), stdout+stderr to a
    temporary file. ``stop()`` signals the whole group, so forked children die with it."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self.name = name
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"videogen-{name}-", suffix=".log", delete=False
        )
        self.log_path = Path(self._log.name)
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for_output(self, pattern: str, timeout: float) -> re.Match:
        """Wait until ``pattern`` (a regex) appears in the output; raise on exit or timeout."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.output())
            if match:
                return match
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before printing {pattern!r}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not print {pattern!r} within {timeout}s")
            time.sleep(0.1)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL whatever is left after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._group_alive():
                self.proc.poll()
                time.sleep(0.05)
            if not self._group_alive():
                break
        self.proc.poll()
        self._log.close()

    def _group_alive(self) -> bool:
        self.proc.poll()  # reap the leader so it does not linger as a zombie
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def dump(self, limit: int = 20000) -> str:
        text = self.output()
        if len(text) > limit:
            text = f"... ({len(text) - limit} characters cut)\n" + text[-limit:]
        return f"----- {self.name} (pid {self.pid}, log {self.log_path}) -----\n{text}"

    def cleanup(self) -> None:
        self.log_path.unlink(missing_ok=True)
