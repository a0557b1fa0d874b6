"""API fuzz: schemathesis against a live server, every endpoint and every role, counting 5xx.

Target (issue #12): no answer 5xx and no transport error, whatever the input, for every
operation of the REST API and every role. Physical limit: none (a robustness run; its rate
of cases is not a target).

The run creates its PostgreSQL database (see ``--database``) and migrates it, starts the
simulator and seeds the data the CI test uses (``tests/api/schema_fuzz.py``: workspace alpha
with a viewer, a member and an admin, jobs in every state; workspace beta, whose admin is the
"outsider"), then starts ``gunicorn project.wsgi`` (sync workers, ``DJANGO_DEBUG=false``,
throttling off). It loads the live OpenAPI schema and, until the time is up, runs every
operation in turn, a batch of generated cases at a time (positive and negative modes, new
random seed each batch), with the CI test's hooks: each case as one of the four roles, aimed
at real objects half the time, with hostile text, numbers and nesting mixed into bodies,
query parameters and path parameters (``tests/strategies.py``). It counts every answer by
operation, role and status and keeps the 5xx (and transport errors). Exit status 1 when any
was seen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_api \
        .venv/bin/python bench/api_fuzz.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench.harness import cli, database
from bench.harness.cli import log
from bench.harness.host import Host
from bench.harness.processes import Simulator, Site, django_env
from bench.harness.writer import Section, Table

COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_api "
    ".venv/bin/python bench/api_fuzz.py"
)


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


def section(host: Host, answers: Counter, errors: list[str], seconds: float, args) -> Section:
    by_operation: dict[str, Counter] = {}
    by_role: Counter = Counter()
    by_status: Counter = Counter()
    for (label, role, status), count in answers.items():
        by_operation.setdefault(label, Counter())[status] += count
        by_role[role] += count
        by_status[status] += count
    total = sum(answers.values())
    minutes = round(args.seconds / 60 + 1)  # the fuzzing, plus setting up
    failures = sum(c for (_, _, s), c in answers.items() if s == "error" or int(s) >= 500)
    statuses = sorted(by_status, key=str)
    operations = Table(
        ["operation", "cases", *map(str, statuses)],
        [
            [
                f"`{label}`",
                f"{sum(counts.values()):,}",
                *(f"{counts.get(s, 0):,}" for s in statuses),
            ]
            for label, counts in sorted(by_operation.items())
        ],
    )
    roles = Table(["role", "cases"], [[r, f"{n:,}"] for r, n in sorted(by_role.items())])
    listed = "\n".join(f"- {error}" for error in errors[:20])
    return Section(
        title="API fuzz",
        script="bench/api_fuzz.py",
        command=cli.reproduce_command(COMMAND),
        host=host,
        summary=[
            "Target (issue #12): no answer 5xx and no transport error, whatever the input, for "
            "every operation of the REST API and every role. Physical limit: none (a robustness "
            "run; its rate of cases is not a target).",
            f"**{total:,} cases in {seconds:.0f} s ({total / seconds:.0f}/s), {failures} "
            f"answered 5xx or failed in transport**: target "
            + ("**met**." if not failures else "**NOT met**."),
        ],
        body=[
            f"Settings: gunicorn, {args.workers} sync workers, `DJANGO_DEBUG=false`, throttling "
            "off, the simulator as the provider; the case generator and the server share the "
            f"machine. Every one of the {len(by_operation)} operations ran {args.turns} turns of "
            f"up to {args.batch} generated cases (positive and negative modes), each case as one "
            "of the roles below.",
            roles,
            operations,
            ("5xx and transport errors:\n\n" + listed)
            if errors
            else "5xx and transport errors: none.",
            "What the cases carry: the CI test's hooks (`tests/api/schema_fuzz.py`) over "
            "schemathesis's own generation: real job ids and workspace slugs (ours and a foreign "
            "workspace's) half the time; lone surrogates, NUL and C0/C1 control characters, "
            "over-long values, integers beyond 64 bits, `1e400`, JSON nested past the limit and "
            "hostile keys anywhere in bodies (`tests/strategies.py`); hostile names and values in "
            "query parameters and path parameters (surrogates arrive there as U+FFFD, as through "
            "any HTTP server). 414s are gunicorn's answer to request lines over 4,094 bytes. "
            "How it is measured: bench/README.md, *api_fuzz.py*.",
        ],
        reproduce_note=f"≈ {minutes} minute{'s' if minutes != 1 else ''}; drops and re-creates "
        "its database",
    )


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__, postgres=True)
    p.add_argument("--seconds", type=float, default=180, help="fuzzing time (default 180)")
    p.add_argument("--batch", type=int, default=50, help="cases per operation per turn")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    args = p.parse_args(argv)
    url = database.database_url("api", args.database)
    media = tempfile.TemporaryDirectory(prefix="videogen-fuzz-media-")
    with (
        cli.sigterm_as_exit(),
        media,
        database.fresh_database(url, keep=args.keep_db),
        Simulator(pending_seconds=0.05, processing_seconds=0.1) as sim,
    ):
        os.environ.update(
            {
                "DJANGO_DEBUG": "false",
                "DJANGO_MEDIA_ROOT": media.name,
                "VIDEOGEN_API_THROTTLE_RATE": "1000000/second",
                "VIDEOGEN_LOG_LEVEL": "WARNING",
                "GUNICORN_CMD_ARGS": "--timeout 120",
            }
        )
        os.environ.pop("OPENROUTER_API_KEY", None)
        database.set_videogen_overrides(API_KEY=sim.api_key, BASE_URL=sim.base_url)
        database.setup_django(url)
        host = Host.collect(packages=["gunicorn", "schemathesis", "hypothesis"], database=True)
        log(host.line())
        from django.core.management import call_command
        from django.db import connection

        from tests.api.schema_fuzz import seed_api_data

        call_command("videogen_sync_models", verbosity=0)
        seed_api_data()
        connection.close()
        with Site(workers=args.workers, env=django_env()) as site:
            log(f"fuzzing for {args.seconds:.0f} s against gunicorn on {site.port}…")
            started = time.monotonic()
            answers, errors, args.turns = fuzz(site.origin, args.seconds, args.batch)
            elapsed = time.monotonic() - started
        host.finish()
    for error in errors:
        log(error)
    cli.publish(section(host, answers, errors, elapsed, args), args)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
