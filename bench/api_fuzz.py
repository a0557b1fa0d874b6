"""API fuzz: schemathesis against a live server, every endpoint and every role, counting 5xx.

1. recreates the database of ``DATABASE_URL`` (PostgreSQL; default ``videogen_input``) and
   migrates it;
2. starts the simulator (``manage.py videogen_simulator``) and seeds the data the CI test uses
   (``tests/api/schema_fuzz.py``: workspace alpha with a viewer, a member and an admin, jobs in
   every state; workspace beta, whose admin is the "outsider");
3. starts ``gunicorn project.wsgi`` (``DJANGO_DEBUG=false``, throttling off);
4. loads the live OpenAPI schema and, until the time is up, runs every operation in turn, a
   batch of generated cases at a time (positive and negative modes, new random seed each
   batch), with the CI test's hooks: each case as one of the four roles, aimed at real objects
   half the time, with hostile text, numbers and nesting mixed into bodies, query parameters
   and path parameters (``tests/strategies.py``);
5. counts every answer by operation, role and status, keeps the 5xx (and transport errors),
   and writes the result to ``docs/benchmarks.md``.

Exit status 1 when any 5xx or transport error was seen.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs" / "benchmarks.md"
TITLE = "## API fuzz (bench/api_fuzz.py)"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/videogen_input"


def log(message: str) -> None:
    print(message, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180, help="fuzzing time (default 180)")
    parser.add_argument("--batch", type=int, default=50, help="cases per operation per turn")
    parser.add_argument("--port", type=int, default=18210, help="gunicorn's port")
    parser.add_argument("--simulator-port", type=int, default=18211)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    return parser.parse_args()


def recreate_database(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
        return connection.execute("SHOW server_version").fetchone()[0]


def start(command: list[str], port: int, log_file) -> subprocess.Popen:
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{command[0]} exited ({proc.returncode}); see {log_file.name}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    raise SystemExit(f"{command[0]} did not listen on {port}; see {log_file.name}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def fuzz(base_url: str, seconds: float, batch: int):
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    from tests.api.schema_fuzz import TOKENS, authorize, install_hooks

    schema = schemathesis.openapi.from_url(f"{base_url}/videogen/api/schema/?format=json")
    install_hooks(schema)
    operations = [result.ok() for result in schema.get_all_operations()]
    role_of = {f"Token {token}": role for role, token in TOKENS.items()}
    answers: Counter = Counter()
    errors: list[str] = []
    session = requests.Session()

    def batch_of(operation):
        """A hypothesis test sending ``batch`` generated cases of ``operation``."""
        label = f"{operation.method.upper()} {operation.path.removeprefix('/videogen/api')}"
        cases = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=batch,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def send(case):
            authorize(case)
            role = role_of.get((case.headers or {}).get("Authorization"), "anonymous")
            try:
                response = case.call(base_url=base_url, session=session, timeout=60)
            except requests.RequestException as err:
                answers[(label, role, "error")] += 1
                errors.append(f"{label} as {role}: {type(err).__name__}: {err}")
                return
            answers[(label, role, response.status_code)] += 1
            if response.status_code >= 500:
                errors.append(
                    f"{label} as {role}: {response.status_code} {response.text[:200]!r} "
                    f"({case.as_curl_command()[:300]})"
                )

        return send

    batches = [batch_of(operation) for operation in operations]
    deadline = time.monotonic() + seconds
    turns = 0
    while time.monotonic() < deadline:
        turns += 1
        for send in batches:
            if time.monotonic() >= deadline:
                break
            send()
    return answers, errors, turns


def markdown(answers: Counter, errors: list[str], *, seconds: float, context: dict) -> str:
    total = sum(answers.values())
    by_operation: dict[str, Counter] = {}
    by_role: Counter = Counter()
    by_status: Counter = Counter()
    for (label, role, status), count in answers.items():
        by_operation.setdefault(label, Counter())[status] += count
        by_role[role] += count
        by_status[status] += count
    failures = sum(c for (_, _, s), c in answers.items() if s == "error" or int(s) >= 500)
    lines = [
        TITLE,
        "",
        f"Measured {context['date']} on {context['machine']}, PostgreSQL {context['postgres']}, "
        f"Python {platform.python_version()}, schemathesis {context['schemathesis']}, "
        f"gunicorn {context['gunicorn']} ({context['workers']} sync workers, "
        "`DJANGO_DEBUG=false`, throttling off), the simulator as the provider; the load "
        f"generator and the server share the machine (load average {context['load']}).",
        "",
        f"**{total:,} cases in {seconds:.0f} s ({total / seconds:.0f}/s), {failures} answered "
        f"5xx or failed in transport.** Every one of the {len(by_operation)} operations ran "
        f"{context['turns']} turns of up to {context['batch']} generated cases (positive and "
        "negative modes), each case as one of the roles below.",
        "",
        "| role | cases |",
        "|---|---:|",
        *(f"| {role} | {count:,} |" for role, count in sorted(by_role.items())),
        "",
        "| operation | cases | " + " | ".join(str(s) for s in sorted(by_status, key=str)) + " |",
        "|---|---:|" + "---:|" * len(by_status),
    ]
    for label in sorted(by_operation):
        counts = by_operation[label]
        cells = " | ".join(f"{counts.get(s, 0):,}" for s in sorted(by_status, key=str))
        lines.append(f"| `{label}` | {sum(counts.values()):,} | {cells} |")
    lines += ["", "5xx and transport errors:" if errors else "5xx and transport errors: none."]
    lines += [f"- {error}" for error in errors[:20]]
    lines += [
        "",
        "What the cases carry: the CI test's hooks (`tests/api/schema_fuzz.py`) over "
        "schemathesis's own generation: real job ids and workspace slugs (ours and a foreign "
        "workspace's) half the time; lone surrogates, NUL and C0/C1 control characters, "
        "over-long values, integers beyond 64 bits, `1e400`, JSON nested past the limit and "
        "hostile keys anywhere in bodies (`tests/strategies.py`); hostile names and values in "
        "query parameters and path parameters (surrogates arrive there as U+FFFD, as through "
        "any HTTP server). 414s are gunicorn's answer to request lines over 4,094 bytes.",
        "",
        "Reproduce (about 4 minutes; drops and recreates the database named in `DATABASE_URL`, "
        "default `videogen_input`; uses ports 18210 and 18211):",
        "",
        "```sh",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_input "
        ".venv/bin/python bench/api_fuzz.py --seconds 180",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    text = DOCS.read_text()
    if TITLE in text:
        before, after = text.split(TITLE, 1)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def main() -> int:
    args = parse_args()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    media = tempfile.TemporaryDirectory(prefix="videogen-fuzz-media-")
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_MEDIA_ROOT": media.name,
            "VIDEOGEN_SIMULATOR_URL": f"http://127.0.0.1:{args.simulator_port}/api/v1",
            "VIDEOGEN_API_THROTTLE_RATE": "1000000/second",
            "VIDEOGEN_LOG_LEVEL": "WARNING",
        }
    )
    postgres = recreate_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    python = str(ROOT / ".venv" / "bin" / "python")
    simulator = server = None
    logs = tempfile.NamedTemporaryFile(prefix="videogen-fuzz-", suffix=".log")  # noqa: SIM115
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        simulator = start(
            [
                *(python, "manage.py", "videogen_simulator", "--port", str(args.simulator_port)),
                *("--pending-seconds", "0.05", "--processing-seconds", "0.1"),
            ],
            args.simulator_port,
            logs,
        )
        from tests.api.schema_fuzz import seed_api_data

        call_command("videogen_sync_models", verbosity=0)
        seed_api_data()
        server = start(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "project.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                str(args.workers),
                "--timeout",
                "120",
            ],
            args.port,
            logs,
        )
        log(f"fuzzing for {args.seconds:.0f} s against gunicorn on {args.port}…")
        started = time.monotonic()
        answers, errors, turns = fuzz(f"http://127.0.0.1:{args.port}", args.seconds, args.batch)
        elapsed = time.monotonic() - started
    finally:
        stop(server)
        stop(simulator)
        media.cleanup()
    import gunicorn
    import schemathesis

    context = {
        "date": date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()})",
        "postgres": postgres,
        "schemathesis": schemathesis.__version__,
        "gunicorn": gunicorn.__version__,
        "workers": args.workers,
        "turns": turns,
        "batch": args.batch,
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    section = markdown(answers, errors, seconds=elapsed, context=context)
    log(section)
    if not args.no_docs:
        write_docs(section)
        log(f"written to {DOCS.relative_to(ROOT)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
