"""Webhook fuzz: 10,000 hostile and genuine requests against a live gunicorn, then the database.

Starts ``gunicorn project.wsgi`` (gthread, 2 workers x 4 threads, ``DJANGO_DEBUG=false``) on
the PostgreSQL database of ``DATABASE_URL``, creates three sets of in-flight jobs (open:
targeted by genuine events; guarded: targeted only by unsigned and forged requests; poison:
targeted only by signed hostile payloads) and sends, from 8 keep-alive connections, a
shuffled mix of: genuine signed events, exact replays, header swaps (a genuine body with
another job's idempotency key), signed hostile payloads (NUL, surrogates, control
characters, deep nesting, huge numbers, over-long fields, not JSON), unsigned, forged,
stale/future, tampered, malformed-header and oversized requests. Each request is signed when
sent, by this script's own HMAC code. It then reports the answers by kind and checks: no
5xx; no change to a guarded or poison job; every open job completed exactly once; no row
for an unsigned request; no refused row holding more than its excerpt; rows added.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_hook \
        .venv/bin/python bench/webhook_fuzz.py
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Webhook fuzz (bench/webhook_fuzz.py)"
COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_hook "
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


def free_port() -> int:
    for port in range(18100, 18200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    sys.exit("no free port in 18100-18199")


def start_gunicorn(port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "VIDEOGEN_WEBHOOK_SECRETS": SECRET,
        "VIDEOGEN_OVERRIDES": json.dumps(
            {"WEBHOOK_MAX_BODY_BYTES": MAX_BODY, "STORE_OUTPUTS": False}
        ),
        "DATABASE_CONN_MAX_AGE": "60",
    }
    command = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}",
               "-k", "gthread", "-w", "2", "--threads", "4"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.terminate()
    sys.exit("gunicorn did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit(f"DATABASE_URL must point at PostgreSQL, e.g.\n  {COMMAND}")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from videogen.models import JobEvent, JobStatus, VideoJob, WebhookDelivery, Workspace

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    run = secrets.token_hex(4)
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
    table = WebhookDelivery._meta.db_table

    def table_bytes() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return cursor.fetchone()[0]

    first_pk = WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    bytes_before = table_bytes()
    plan, replays = build_plan(rng, ids["open"], ids["guarded"], ids["poison"])
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = start_gunicorn(port, log)
        try:
            sender = Sender(port, plan, replays, rng)
            seconds = sender.run()
        finally:
            server.terminate()
            server.wait(timeout=30)
    connection.close()

    added = WebhookDelivery.objects.filter(pk__gt=first_pk)
    jobs = VideoJob.objects.filter(workspace=workspace)

    def changed(group: str) -> int:
        moved = jobs.filter(provider_job_id__in=ids[group]).exclude(status=JobStatus.IN_PROGRESS)
        evented = JobEvent.objects.filter(job__provider_job_id__in=ids[group])
        return moved.count() + evented.count()

    checks = {
        "5xx answers": sum(n for (_, status), n in sender.answers.items() if status >= 500),
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
        "requests without an answer": sum(n for (_, s), n in sender.answers.items() if s == 0),
    }
    rows = Counter(added.values_list("outcome", flat=True))
    grown = table_bytes() - bytes_before
    total = sum(sender.answers.values())
    lines = report(sender.answers, checks, rows, grown, total, seconds)
    print("\n".join(lines))
    if not args.no_docs:
        write_section("\n".join(lines))
        print(f"wrote {DOCS.relative_to(ROOT)}")
    return 0 if not any(checks.values()) else 1


def report(answers, checks, rows, grown, total, seconds) -> list[str]:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for (kind, status), n in answers.items():
        by_kind[kind][status] += n
    statuses = sorted({s for c in by_kind.values() for s in c})
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d')}: {total:,} requests in {seconds:.1f} s "
        f"({total / seconds:,.0f}/s) from 8 keep-alive connections to gunicorn (gthread, 2 "
        "workers x 4 threads, `DJANGO_DEBUG=false`) on PostgreSQL; `WEBHOOK_MAX_BODY_BYTES` = "
        f"{MAX_BODY:,}; one webhook secret. Jobs: 600 open (genuine events), 300 guarded (only "
        "unsigned/forged requests aim at them), 100 poison (only signed hostile payloads).",
        "",
        "| kind | " + " | ".join(str(s) for s in statuses) + " | total |",
        "|---|" + "---:|" * (len(statuses) + 1),
    ]
    for kind in sorted(by_kind, key=lambda k: list(MIX).index(k)):
        counts = by_kind[kind]
        cells = " | ".join(f"{counts[s]:,}" if counts[s] else "" for s in statuses)
        lines.append(f"| {kind} | {cells} | {sum(counts.values()):,} |")
    lines += ["", "| check | result |", "|---|---:|"]
    lines += [f"| {name} | **{value}** |" for name, value in checks.items()]
    rows_text = ", ".join(f"{outcome} {n:,}" for outcome, n in sorted(rows.items()))
    lines += [
        "",
        f"Rows added to `WebhookDelivery`: {sum(rows.values()):,} ({rows_text}); the table grew "
        f"by {grown / 1e6:.1f} MB (unsigned requests store nothing; a refused one keeps its "
        "reason, its headers cut to 300 characters and a 200-character escaped excerpt).",
        "",
        "What each kind is: *genuine*, a signed completion event per open job; *replay*, the "
        "exact bytes of a genuine request again; *header-swap*, a genuine body with another "
        "job's `X-OpenRouter-Idempotency-Key`; *hostile-signed*, validly signed NUL, lone "
        "surrogates, control characters, nesting 500 and 20,000 deep, `1e400`, 2^70, a "
        "5,000-digit integer, `NaN`, over-long `generation_id`/`status`/`type`, not JSON, not "
        "UTF-8; *unsigned*, no signature header (genuine-looking and hostile bodies); *forged*, "
        'signed with a wrong secret (one is `"w"`); *stale-or-future*, the right secret '
        "302 s to a day outside the 300 s window (a second less can be inside it: `t` is whole "
        "seconds, the server's clock is not); *tampered*, the body changed after signing; "
        "*malformed-header*, "
        "309-digit `t`, non-ASCII or non-hex `v1`, duplicates, 2,000 commas, NUL; *oversized*, "
        "over the cap, half of them with a signature header. Answers: 204 applied or "
        "duplicate, 200 a signed payload recorded as unprocessable (acknowledged, left for "
        "the poller), 401 refused, 413 over the cap; the 400s are gunicorn's own, before "
        "Django, for header values holding NUL or other bytes HTTP does not allow.",
        "",
        "Reproduce (creates its own jobs in the database of `DATABASE_URL`, migrating it first):",
        "",
        "```sh",
        COMMAND,
        "```",
    ]
    return lines


def write_section(text: str) -> None:
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = current.find(SECTION)
    if start < 0:
        DOCS.write_text(current.rstrip("\n") + "\n\n" + text + "\n")
        return
    end = current.find("\n## ", start + len(SECTION))
    rest = current[end:] if end >= 0 else "\n"
    DOCS.write_text(current[:start] + text + "\n" + rest)


if __name__ == "__main__":
    sys.exit(main())
