"""`make run`: migrate, set up the demo, start simulator + site + qcluster; Ctrl-C stops all.

With no OPENROUTER_API_KEY the app points at the simulator this script starts. Secrets the
processes must share (Django's SECRET_KEY, the webhook secret) are made once and kept in the
git-ignored .run/ folder unless given in the environment.
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

SITE_HOST = os.environ.get("SITE_HOST", "127.0.0.1")
SITE_PORT = int(os.environ.get("SITE_PORT", "8000"))
SIMULATOR_PORT = int(os.environ.get("SIMULATOR_PORT", "8001"))
STOP_GRACE_SECONDS = 8


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def dev_secret(name: str, prefix: str = "") -> str:
    """A random value made once and kept in the git-ignored .run/ folder."""
    path = Path(__file__).resolve().parent.parent / ".run" / name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(prefix + secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


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


def main() -> int:
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

    # Ctrl-C reaches the children too (same process group); stop quietly, exit 0.
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
        print(
            "\n"
            f"  videogen is running.\n"
            f"  Admin:      {site_url}/admin/   (login printed above)\n"
            + (
                f"  Simulator:  http://127.0.0.1:{SIMULATOR_PORT}/api/v1 (OpenRouter stand-in)\n"
                if use_simulator
                else "  Provider:   OpenRouter (OPENROUTER_API_KEY is set)\n"
            )
            + "  Ctrl-C stops the site, the qcluster and the simulator.\n",
            flush=True,
        )
        while not stopping:
            for name, proc in processes:
                if proc.poll() is not None and not stopping:
                    print(f"{name} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    return proc.returncode or 1
            time.sleep(0.5)
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
