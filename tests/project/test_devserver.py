"""``make run`` as an operator uses it: shell commands in another terminal join the running
demo, and the demo stops when ``make`` alone is interrupted. A fresh SQLite database and
``.run/`` folder under the test's temporary directory; free ports."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make"),
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc"),
]

STARTUP_TIMEOUT = 120
STOP_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shell_env(run_dir: Path, **values: str) -> dict[str, str]:
    """A terminal's environment: none of the site's variables, not under pytest."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_VERSION", "OPENROUTER_API_KEY")
        and not k.startswith(("VIDEOGEN_", "DJANGO_", "Q_"))
    }
    env.update(DJANGO_RUN_DIR=str(run_dir), PYTHONUNBUFFERED="1", **values)
    return env


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def make_run(tmp_path):
    """``make run`` in its own session, with SIGINT handled as in a terminal."""
    run_dir = tmp_path / "run"
    site_port, simulator_port = free_port(), free_port()
    env = shell_env(
        run_dir,
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3",
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        SITE_PORT=str(site_port),
        SIMULATOR_PORT=str(simulator_port),
        Q_WORKERS="1",
        PYTHON=sys.executable,
        VENV=str(Path(sys.executable).parent.parent),
    )
    log = (tmp_path / "make-run.log").open("w")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        # A terminal's make catches SIGINT; pytest may run with it ignored (inherited).
        preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL), os.setsid()),
    )
    seen: set[int] = set()
    make.run_dir = run_dir
    make.log_path = tmp_path / "make-run.log"
    make.seen = seen
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "videogen is running" not in make.log_path.read_text():
            assert make.poll() is None, make.log_path.read_text()
            assert time.monotonic() < deadline, make.log_path.read_text()
            time.sleep(0.3)
        seen.update(descendants(make.pid))
        yield make
    finally:
        seen.update(descendants(make.pid))
        for pid in (*seen, make.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        make.wait(10)
        log.close()


def manage(run_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python manage.py <args>`` from another terminal: only DJANGO_RUN_DIR in common."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=shell_env(run_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def url_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # follows redirects
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_commands_in_another_terminal_join_the_demo_and_make_alone_can_stop_it(make_run):
    env_file = make_run.run_dir / "env"
    assert "VIDEOGEN_SIMULATOR_URL=" in env_file.read_text()
    submitted = manage(
        make_run.run_dir,
        *("videogen_submit", "--workspace", "demo", "--model", "google/veo-3.1"),
        *("--prompt", "A fox in the snow", "--wait", "--timeout", "90"),
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "Completed; cost" in submitted.stdout

    # The banner lists every URL of the demo, and each one answers (not 404, not 5xx).
    log = make_run.log_path.read_text()
    banner = log[log.index("videogen is running") :]
    urls = re.findall(r"^  [A-Za-z ]+:\s+(http://\S+)", banner, re.MULTILINE)
    assert len(urls) == 10, banner
    site = urls[0]
    for url in urls[:-1]:  # the site's own; the last is the simulator's base URL
        assert url.startswith(site) and url_status(url) not in (404, 500, 502, 503), url
    assert url_status(urls[-1] + "/videos/models") == 401  # the simulator wants its key
    assert "/accounts/login/" in banner and "/videogen/token/" in banner

    make_run.seen.update(descendants(make_run.pid))
    os.kill(make_run.pid, signal.SIGINT)  # to make alone, not to its process group
    deadline = time.monotonic() + STOP_TIMEOUT
    while make_run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    log = make_run.log_path.read_text()
    assert make_run.poll() is not None, f"make run did not stop:\n{log}"
    assert not [pid for pid in make_run.seen if alive(pid)], log
    assert not env_file.exists()  # commands no longer join a demo that is gone
