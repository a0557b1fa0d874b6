"""Webhook fuzz: 10,000 hostile and genuine requests against a live gunicorn, then the database.

Target (issues #12, #13): no 5xx and no request without an answer; no change to a job that
only unsigned, forged or hostile requests aimed at; every genuine event applied exactly once;
no stored row for an unsigned request and no refused row holding more than its excerpt.
Physical limit: none (a robustness run; its rate is not a target).

Starts ``gunicorn project.wsgi`` (gthread, 2 workers x 4 threads, ``DJANGO_DEBUG=false``) on
a PostgreSQL database the run creates, creates three sets of in-flight jobs (open: targeted
by genuine events; guarded: targeted only by unsigned and forged requests; poison: targeted
only by signed hostile payloads) and sends, from 8 keep-alive connections, a shuffled mix
of: genuine signed events, exact replays, header swaps (a genuine body with another job's
idempotency key), signed hostile payloads (NUL, surrogates, control characters, deep
nesting, huge numbers, over-long fields, not JSON), unsigned, forged, stale/future,
tampered, malformed-header and oversized requests. Each request is signed when sent, by
this script's own HMAC code. It then reports the answers by kind and checks the database.
The database is created and dropped by the run (see ``--database``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_hook \
        .venv/bin/python bench/webhook_fuzz.py
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from bench.harness import cli, database
from bench.harness.cli import log
from bench.harness.host import Host
from bench.harness.processes import Site, django_env
from bench.harness.writer import Section, Table

COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench_hook "
    ".venv/bin/python bench/webhook_fuzz.py"
)
PATH = "/videogen/webhooks/openrouter/"
SECRET = "whsec-fuzz-" + secrets.token_hex(8)
MAX_BODY = 64 * 1024
EXCERPT_MAX = 200 * 4 + 1
# Requests per kind (10,000 in all).
MIX = {
    "genuine": 600,
    "replay": 1000,
    "header-swap": 800,
    "hostile-signed": 2000,
    "unsigned": 1500,
    "forged": 1200,
    "stale-or-future": 800,
    "tampered": 800,
    "malformed-header": 800,
    "oversized": 500,
}
UNSIGNED_KINDS = {
    "unsigned",
    "forged",
    "stale-or-future",
    "tampered",
    "malformed-header",
    "oversized",
}


def sign(body: bytes, secret: str = SECRET, offset: int = 0) -> bytes:
    ts = int(time.time()) + offset
    digest = hmac.new(secret.encode(), f"{ts},".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}".encode()


def event(job_id: str, status: str = "completed", **data) -> bytes:
    payload = {
        "type": f"video.generation.{status}",
        "created_at": "2026-11-25T12:00:00Z",
        "data": {
            "id": job_id,
            "status": status,
            "generation_id": f"gen-{job_id}",
            "unsigned_urls": [f"https://sim.test/{job_id}.mp4"],
            "usage": {"cost": 0.25, "is_byok": False},
            **data,
        },
    }
    return json.dumps(payload).encode()


def poison_bodies(job_id: str) -> list[bytes]:
    good = event(job_id)
    extra = b'"is_byok": false'
    return [
        event(job_id + "\x00"),
        event(job_id + "\ud800"),
        good.replace(b'"video.generation.completed"', b'"video.generation.completed\\u0000"'),
        event(job_id, generation_id="g" * 201),
        good.replace(b'"status": "completed"', b'"status": "' + b"s" * 33 + b'"'),
        good.replace(extra, extra + b', "x": ' + b"[" * 500 + b"]" * 500),
        good.replace(extra, extra + b', "x": ' + b"[" * 20000 + b"]" * 20000),
        good.replace(b'"cost": 0.25', b'"cost": 1e400'),
        good.replace(extra, extra + b', "n": ' + str(2**70).encode()),
        good.replace(extra, extra + b', "n": ' + b"9" * 5000),
        good.replace(b'"cost": 0.25', b'"cost": NaN'),
        event(job_id, error="bad\x1bnews\x85"),
        event(job_id, unsigned_urls=["https://x/\x00"]),
        event(job_id, **{"k\x00": 1}),
        b"\xff\xfe not json",
        b"[]",
        b'{"type": "video.generation.completed", "data": {"status": "completed"}}',
    ]


def malformed_headers(body: bytes) -> list[bytes]:
    now = int(time.time())
    good = sign(body).split(b",v1=")[1]
    return [
        b"t=" + b"9" * 400 + b",v1=ab",
        f"t={now},v1=".encode() + "é".encode() * 64,
        f"t={now},v1=".encode() + b"\xff" * 64,
        f"t={now},v1={'a' * 63}".encode(),
        f"t={now}".encode(),
        b"v1=" + good,
        f"t=-{now},v1=".encode() + good,
        f"t={now},t={now},v1=".encode() + good,
        b"," * 2000,
        b"garbage\x00\x01",
        f"t={now}.5,v1=".encode() + good,
    ]


def build_plan(rng: random.Random, open_ids, guarded_ids, poison_ids):
    """[(kind, make_request)]: make_request() -> (body, headers) at send time."""
    plan: list[tuple[str, object]] = []
    genuine = {pid: event(pid, cost=0.25) for pid in open_ids}
    for pid in open_ids[: MIX["genuine"]]:
        plan.append(("genuine", lambda b=genuine[pid]: (b, {"X-OpenRouter-Signature": sign(b)})))
    for _ in range(MIX["header-swap"]):
        a, b = rng.sample(open_ids, 2)
        body = genuine[a]
        plan.append(
            (
                "header-swap",
                lambda body=body, b=b: (
                    body,
                    {
                        "X-OpenRouter-Signature": sign(body),
                        "X-OpenRouter-Idempotency-Key": f"{b}-completed".encode(),
                    },
                ),
            )
        )
    for _ in range(MIX["hostile-signed"]):
        body = rng.choice(poison_bodies(rng.choice(poison_ids)))
        plan.append(("hostile-signed", lambda b=body: (b, {"X-OpenRouter-Signature": sign(b)})))
    for _ in range(MIX["unsigned"]):
        body = rng.choice([event(rng.choice(guarded_ids)), *poison_bodies(rng.choice(guarded_ids))])
        key = rng.choice([None, f"{rng.choice(open_ids)}-completed".encode(), b"\x00\xff" * 40])
        headers = {"X-OpenRouter-Idempotency-Key": key} if key else {}
        plan.append(("unsigned", lambda b=body, h=headers: (b, h)))
    for _ in range(MIX["forged"]):
        body, secret = event(rng.choice(guarded_ids)), rng.choice(["attacker", "w", SECRET[:-1]])
        plan.append(
            ("forged", lambda b=body, s=secret: (b, {"X-OpenRouter-Signature": sign(b, s)}))
        )
    for _ in range(MIX["stale-or-future"]):
        body, offset = event(rng.choice(guarded_ids)), rng.choice([-302, -3600, 302, 86400])
        plan.append(
            (
                "stale-or-future",
                lambda b=body, o=offset: (b, {"X-OpenRouter-Signature": sign(b, offset=o)}),
            )
        )
    for _ in range(MIX["tampered"]):
        body = event(rng.choice(guarded_ids))
        plan.append(
            (
                "tampered",
                lambda b=body: (
                    b.replace(b'"cost": 0.25', b'"cost": 0.01'),
                    {"X-OpenRouter-Signature": sign(b)},
                ),
            )
        )
    for _ in range(MIX["malformed-header"]):
        body, pick = event(rng.choice(guarded_ids)), rng.randrange(11)
        plan.append(
            (
                "malformed-header",
                lambda b=body, p=pick: (b, {"X-OpenRouter-Signature": malformed_headers(b)[p]}),
            )
        )
    for i in range(MIX["oversized"]):
        body = event(rng.choice(guarded_ids), padding="p" * (MAX_BODY + 1000))
        signed = i % 2 == 0
        plan.append(
            (
                "oversized",
                lambda b=body, s=signed: (b, {"X-OpenRouter-Signature": sign(b)} if s else {}),
            )
        )
    rng.shuffle(plan)
    # Replays: the exact bytes of an earlier genuine request, sent again later in the run.
    return plan, MIX["replay"]


class Sender:
    """8 threads with keep-alive connections, pulling from one queue; replays re-send the
    exact bytes of genuine requests already sent."""

    def __init__(self, port: int, plan, replays: int, rng: random.Random):
        self.port, self.work, self.rng = port, queue.Queue(), rng
        self.answers: Counter = Counter()
        self.sent_genuine: list[tuple[bytes, dict]] = []
        self.lock = threading.Lock()
        self.replays_left = replays
        for item in plan:
            self.work.put(item)

    def run(self, threads: int = 8) -> float:
        started = time.perf_counter()
        workers = [threading.Thread(target=self._loop) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.perf_counter() - started

    def _next(self):
        with self.lock:
            if self.replays_left and self.sent_genuine and self.rng.random() < 0.13:
                self.replays_left -= 1
                body, headers = self.rng.choice(self.sent_genuine)
                return "replay", lambda: (body, headers)
        try:
            return self.work.get_nowait()
        except queue.Empty:
            with self.lock:
                if self.replays_left and self.sent_genuine:
                    self.replays_left -= 1
                    body, headers = self.rng.choice(self.sent_genuine)
                    return "replay", lambda: (body, headers)
            return None

    def _loop(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while (item := self._next()) is not None:
            kind, make = item
            body, headers = make()
            status = self._post(conn, body, headers)
            if status is None:  # the server closed the connection (e.g. after a 413)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                body, headers = make()  # signed again, as a client's retry would be
                status = self._post(conn, body, headers) or 0
            with self.lock:
                self.answers[(kind, status)] += 1
                if kind == "genuine":
                    self.sent_genuine.append((body, headers))
        conn.close()

    @staticmethod
    def _post(conn, body: bytes, headers: dict) -> int | None:
        try:
            conn.putrequest("POST", PATH)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            response.read()
            return response.status
        except (TimeoutError, ConnectionError, http.client.HTTPException):
            return None


def create_jobs(run: str) -> dict[str, list[str]]:
    """The open, guarded and poison in-flight jobs; their provider ids by set."""
    from videogen.models import JobStatus, VideoJob, Workspace

    workspace = Workspace.objects.create(name=f"Fuzz {run}", slug=f"fuzz-{run}")
    sizes = {"open": MIX["genuine"], "guarded": 300, "poison": 100}
    ids = {name: [f"fuzz-{run}-{name}-{i}" for i in range(n)] for name, n in sizes.items()}
    VideoJob.objects.bulk_create(
        VideoJob(
            workspace=workspace,
            model="google/veo-3.1",
            prompt="fuzz",
            duration=8,
            status=JobStatus.IN_PROGRESS,
            provider_job_id=pid,
        )
        for group in ids.values()
        for pid in group
    )
    return ids


def table_bytes() -> int:
    from django.db import connection

    from videogen.models import WebhookDelivery

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [WebhookDelivery._meta.db_table])
        return cursor.fetchone()[0]


def check_database(ids: dict[str, list[str]], answers: Counter) -> dict[str, int]:
    """Each check's count of offending requests, rows or jobs (all must be 0)."""
    from videogen.models import JobEvent, JobStatus, VideoJob, WebhookDelivery

    jobs = VideoJob.objects.filter(provider_job_id__in=[i for g in ids.values() for i in g])
    added = WebhookDelivery.objects.all()

    def changed(group: str) -> int:
        moved = jobs.filter(provider_job_id__in=ids[group]).exclude(status=JobStatus.IN_PROGRESS)
        evented = JobEvent.objects.filter(job__provider_job_id__in=ids[group])
        return moved.count() + evented.count()

    return {
        "5xx answers": sum(n for (_, status), n in answers.items() if status >= 500),
        "requests without an answer": sum(n for (_, s), n in answers.items() if s == 0),
        "guarded jobs changed (targets of unsigned/forged requests)": changed("guarded"),
        "poison jobs changed (targets of signed hostile payloads)": changed("poison"),
        "rows for requests without a signature header": sum(
            1 for h in added.values_list("headers", flat=True) if "X-OpenRouter-Signature" not in h
        ),
        "refused rows holding more than an excerpt": sum(
            1
            for outcome, body in added.values_list("outcome", "body")
            if outcome in ("rejected", "unprocessable") and len(body) > EXCERPT_MAX
        ),
        "open jobs not completed exactly once": sum(
            1
            for job in jobs.filter(provider_job_id__in=ids["open"])
            if job.status != JobStatus.COMPLETED or job.events.count() != 1
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__, postgres=True)
    p.add_argument("--seed", type=int, default=2026, help="the plan's random seed")
    args = p.parse_args(argv)
    url = database.database_url("hook", args.database)
    os.environ["VIDEOGEN_WEBHOOK_SECRETS"] = SECRET
    database.set_videogen_overrides(WEBHOOK_MAX_BODY_BYTES=MAX_BODY, STORE_OUTPUTS=False)
    with cli.sigterm_as_exit(), database.fresh_database(url, keep=args.keep_db):
        database.setup_django(url)
        host = Host.collect(packages=["gunicorn"], database=True)
        log(host.line())
        from django.db import connection

        from videogen.models import WebhookDelivery

        rng = random.Random(args.seed)
        ids = create_jobs(secrets.token_hex(4))
        bytes_before = table_bytes()
        plan, replays = build_plan(rng, ids["open"], ids["guarded"], ids["poison"])
        connection.close()
        site = Site(
            workers=2,
            worker_class="gthread",
            threads=4,
            env=django_env(DJANGO_DEBUG="false", DATABASE_CONN_MAX_AGE=60),
            ready_path=PATH,
        )
        with site:
            log(f"sending {sum(MIX.values()):,} requests to gunicorn on {site.port}…")
            sender = Sender(site.port, plan, replays, rng)
            seconds = sender.run()
        checks = check_database(ids, sender.answers)
        rows = Counter(WebhookDelivery.objects.values_list("outcome", flat=True))
        grown = table_bytes() - bytes_before
        host.finish()
    cli.publish(section(host, sender.answers, checks, rows, grown, seconds), args)
    return 0 if not any(checks.values()) else 1


def section(host, answers, checks, rows, grown, seconds) -> Section:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for (kind, status), n in answers.items():
        by_kind[kind][status] += n
    statuses = sorted({s for c in by_kind.values() for s in c})
    total = sum(answers.values())
    kinds = sorted(by_kind, key=lambda k: list(MIX).index(k))
    answers_table = Table(
        ["kind", *map(str, statuses), "total"],
        [
            [
                kind,
                *(f"{by_kind[kind][s]:,}" if by_kind[kind][s] else "" for s in statuses),
                f"{sum(by_kind[kind].values()):,}",
            ]
            for kind in kinds
        ],
    )
    checks_table = Table(["check", "result"], [[k, f"**{v}**"] for k, v in checks.items()])
    failed = [name for name, value in checks.items() if value]
    rows_text = ", ".join(f"{outcome} {n:,}" for outcome, n in sorted(rows.items()))
    return Section(
        title="Webhook fuzz",
        script="bench/webhook_fuzz.py",
        command=cli.reproduce_command(COMMAND),
        host=host,
        summary=[
            "Target (issues #12, #13): no 5xx and no request without an answer; no change to "
            "a job only unsigned, forged or hostile requests aimed at; every genuine event "
            "applied exactly once; no row for an unsigned request, no refused row holding more "
            "than its excerpt. Physical limit: none (a robustness run; its rate is not a "
            "target).",
            f"{total:,} requests in {seconds:.1f} s ({total / seconds:,.0f}/s), "
            f"{checks['5xx answers']} answered 5xx: target "
            + ("**met** (every check 0)." if not failed else f"**NOT met** ({'; '.join(failed)})."),
        ],
        body=[
            "Settings: 8 keep-alive connections to gunicorn (gthread, 2 workers × 4 threads, "
            f"`DJANGO_DEBUG=false`) on PostgreSQL; `WEBHOOK_MAX_BODY_BYTES` = {MAX_BODY:,}; one "
            "webhook secret. Jobs: 600 open (genuine events), 300 guarded (only unsigned/forged "
            "requests aim at them), 100 poison (only signed hostile payloads).",
            answers_table,
            checks_table,
            f"Rows added to `WebhookDelivery`: {sum(rows.values()):,} ({rows_text}); the table "
            f"grew by {grown / 1e6:.1f} MB (unsigned requests store nothing; a refused one keeps "
            "its reason, its headers cut to 300 characters and a 200-character escaped "
            "excerpt).",
            "What each kind is: *genuine*, a signed completion event per open job; *replay*, the "
            "exact bytes of a genuine request again; *header-swap*, a genuine body with another "
            "job's `X-OpenRouter-Idempotency-Key`; *hostile-signed*, validly signed NUL, lone "
            "surrogates, control characters, nesting 500 and 20,000 deep, `1e400`, 2^70, a "
            "5,000-digit integer, `NaN`, over-long `generation_id`/`status`/`type`, not JSON, "
            "not UTF-8; *unsigned*, no signature header (genuine-looking and hostile bodies); "
            '*forged*, signed with a wrong secret (one is `"w"`); *stale-or-future*, the right '
            "secret 302 s to a day outside the 300 s window (a second less can be inside it: `t` "
            "is whole seconds, the server's clock is not); *tampered*, the body changed after "
            "signing; *malformed-header*, 309-digit `t`, non-ASCII or non-hex `v1`, duplicates, "
            "2,000 commas, NUL; *oversized*, over the cap, half of them with a signature header. "
            "Answers: 204 applied or duplicate, 200 a signed payload recorded as unprocessable "
            "(acknowledged, left for the poller), 401 refused, 413 over the cap; the 400s are "
            "gunicorn's own, before Django, for header values holding NUL or other bytes HTTP "
            "does not allow. How it is measured: bench/README.md, *webhook_fuzz.py*.",
        ],
        reproduce_note="≈ 1 minute; drops and re-creates its database",
    )


if __name__ == "__main__":
    sys.exit(main())
