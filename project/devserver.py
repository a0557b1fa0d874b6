"""`make run`: migrate, set up the demo, start simulator + site + qcluster; Ctrl-C stops all.

With no OPENROUTER_API_KEY the app points at the simulator this script starts. Secrets the
processes must share (Django's SECRET_KEY, the webhook secret) are made once and kept in the
git-ignored .run/ folder unless given in the environment.

While it runs, ``.run/env`` holds the configuration it gave its processes (simulator and
callback URLs, webhook secret, database…), which ``project/settings.py`` reads for anything
the environment does not set: ``manage.py`` commands in another terminal join the same demo.
The file is removed when the demo stops.

It stops on Ctrl-C, on SIGTERM, and when ``make`` alone is sent SIGINT/SIGHUP (``kill -INT
<make's pid>``): GNU make then waits for its children without telling them, so this script
watches its parent (see ``ParentWatch``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("DJANGO_RUN_DIR") or BASE_DIR / ".run")
SITE_HOST = os.environ.get("SITE_HOST", "127.0.0.1")
SITE_PORT = int(os.environ.get("SITE_PORT", "8000"))
SIMULATOR_PORT = int(os.environ.get("SIMULATOR_PORT", "8001"))
STOP_GRACE_SECONDS = 8
# What the demo's processes were given and shell commands must see too (project/settings.py
# reads these). Not OPENROUTER_API_KEY: a real secret stays in the operator's environment.
SHARED_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "REDIS_URL",
    "Q_CLUSTER_NAME",
    "Q_WORKERS",
    "OPENROUTER_BASE_URL",
    "VIDEOGEN_SIMULATOR_URL",
    "VIDEOGEN_SIMULATOR_API_KEY",
    "VIDEOGEN_WEBHOOK_SECRETS",
    "VIDEOGEN_CALLBACK_URL",
    "VIDEOGEN_APP_URL",
    "VIDEOGEN_APP_TITLE",
    "VIDEOGEN_OVERRIDES",
    "VIDEOGEN_LOG_LEVEL",
    "DJANGO_TIME_ZONE",
    "DJANGO_MEDIA_ROOT",
)
# Signals GNU make handles by waiting for its children (it forwards only SIGTERM).
MAKE_FATAL_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def dev_secret(name: str, prefix: str = "") -> str:
    """A random value made once and kept in the git-ignored .run/ folder."""
    path = RUN_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(prefix + secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def write_env_file(env: dict[str, str]) -> Path:
    """Write the shared part of ``env`` to .run/env (owner-only: it holds the webhook secret)."""
    path = RUN_DIR / "env"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `make run` for manage.py commands in other terminals; removed when it stops.",
        "# The environment wins over these values (project/settings.py).",
        *(
            f"{name}={env[name]}"
            for name in SHARED_VARIABLES
            if env.get(name) and "\n" not in env[name]
        ),
    ]
    partial = path.with_name("env.partial")
    partial.touch(mode=0o600)
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return path


def _proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _caught_signals(pid: int) -> int | None:
    """The signals ``pid`` has a handler for, as Linux shows them; None elsewhere."""
    value = _proc_status(pid).get("SigCgt")
    return int(value.strip(), 16) if value else None


class ParentWatch:
    """Says when the process that started this one wants it gone but cannot say so.

    - The parent died (this process was re-parented).
    - GNU make was sent SIGINT, SIGHUP or SIGQUIT on its own (not by the terminal to the
      whole process group): it resets that signal to its default action, then waits for its
      children, for ever, without passing the signal on. Linux shows the reset (the signal
      leaves the parent's caught signals in /proc/<pid>/status).
    """

    def __init__(self) -> None:
        self.pid = os.getppid()
        name = _proc_status(self.pid).get("Name", "").strip()
        self.caught = _caught_signals(self.pid) if name in ("make", "gmake") else None
        self.mask = sum(1 << (sig - 1) for sig in MAKE_FATAL_SIGNALS)

    def parent_gave_up(self) -> bool:
        if os.getppid() != self.pid:
            return True
        if self.caught is None:
            return False
        now = _caught_signals(self.pid)
        return now is not None and bool(self.caught & self.mask & ~now)


def wait_for(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (local URL we started)
                return True
        except urllib.error.HTTPError:
            return True  # it answers, even if 401/404
        except OSError:
            time.sleep(0.2)
    return False


def banner(site_url: str, *, use_simulator: bool) -> str:
    """What `make run` prints once everything answers: every URL of the demo."""
    rows = [
        ("Site", f"{site_url}/", "sign in; it leads to your workspaces"),
        ("Sign in", f"{site_url}/accounts/login/", "the admin user printed above, or any member"),
        ("Workspaces", f"{site_url}/videogen/", "make videos, watch them, see the spend"),
        ("Demo", f"{site_url}/videogen/w/demo/", "the demo workspace"),
        ("API token", f"{site_url}/videogen/token/", "your token for the REST API"),
        ("REST API", f"{site_url}/videogen/api/", ""),
        ("API docs", f"{site_url}/videogen/api/docs/", f"schema: {site_url}/videogen/api/schema/"),
        ("Admin", f"{site_url}/admin/", "staff only"),
        ("Webhook", f"{site_url}/videogen/webhooks/openrouter/", "where the provider calls back"),
    ]
    if use_simulator:
        rows.append(
            ("Simulator", f"http://127.0.0.1:{SIMULATOR_PORT}/api/v1", "OpenRouter stand-in")
        )
    else:
        rows.append(("Provider", "OpenRouter", "OPENROUTER_API_KEY is set"))
    lines = [
        f"  {name + ':':<12}{url}" + (f"   ({note})" if note else "") for name, url, note in rows
    ]
    return "\n".join(
        [
            "",
            "  videogen is running.",
            *lines,
            "  Ctrl-C stops the site, the qcluster and the simulator.",
            "",
        ]
    )


def main() -> int:
    watch = ParentWatch()
    env = os.environ.copy()
    # Web and qcluster must share SECRET_KEY: django-q2 signs every task with it. Kept in a
    # git-ignored file so logins survive restarts.
    env.setdefault("DJANGO_SECRET_KEY", dev_secret("django-secret-key"))
    use_simulator = not env.get("OPENROUTER_API_KEY")
    site_url = f"http://{SITE_HOST}:{SITE_PORT}"
    if use_simulator:
        env.setdefault("VIDEOGEN_SIMULATOR_URL", f"http://127.0.0.1:{SIMULATOR_PORT}/api/v1")
        env.setdefault("VIDEOGEN_WEBHOOK_SECRETS", dev_secret("webhook-secret", "whsec-"))
        env.setdefault("VIDEOGEN_CALLBACK_URL", f"{site_url}/videogen/webhooks/openrouter/")

    env_file = write_env_file(env)
    try:
        return serve(env, watch=watch, use_simulator=use_simulator, site_url=site_url)
    finally:
        env_file.unlink(missing_ok=True)


def serve(env: dict[str, str], *, watch: ParentWatch, use_simulator: bool, site_url: str) -> int:
    subprocess.run(manage("migrate", "--noinput"), env=env, check=True)  # noqa: S603
    subprocess.run(manage("videogen_demo_setup"), env=env, check=True)  # noqa: S603

    commands: list[tuple[str, list[str]]] = []
    if use_simulator:
        commands.append(("simulator", manage("videogen_simulator", "--port", str(SIMULATOR_PORT))))
    commands.append(("site", manage("runserver", f"{SITE_HOST}:{SITE_PORT}", "--noreload")))
    commands.append(("qcluster", manage("qcluster")))

    processes: list[tuple[str, subprocess.Popen]] = []

    def signal_group(proc: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)

    def stop_all(*_args) -> None:
        # Each child leads its own process group: the qcluster's workers go with it, even
        # one busy with a reconcile window (it gets STOP_GRACE_SECONDS, then SIGKILL).
        for _, proc in processes:
            signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _, proc in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            signal_group(proc, signal.SIGKILL)

    stopping = []

    def request_stop(*_args) -> None:
        stopping.append(True)

    # Ctrl-C (the terminal signals the whole group) or SIGTERM: stop quietly, exit 0.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for name, cmd in commands:
            processes.append(
                (name, subprocess.Popen(cmd, env=env, start_new_session=True))  # noqa: S603
            )
            if name == "simulator":
                wait_for(f"http://127.0.0.1:{SIMULATOR_PORT}/api/v1/videos/models")
                subprocess.run(manage("videogen_sync_models"), env=env, check=False)  # noqa: S603
        wait_for(f"{site_url}/admin/login/")
        print(banner(site_url, use_simulator=use_simulator), flush=True)
        while not stopping:
            for name, proc in processes:
                if proc.poll() is not None and not stopping:
                    print(f"{name} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    return proc.returncode or 1
            if watch.parent_gave_up():
                print("make was interrupted; stopping.", file=sys.stderr, flush=True)
                break
            time.sleep(0.5)
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
