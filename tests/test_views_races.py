"""Webhooks racing pollers and sweeps on PostgreSQL.

Signed completion webhooks (through the HTTP view, several times each) land while pollers
apply a snapshot of the same jobs with a *different* cost and sweeps claim and poll them.
Whichever writer wins, a job ends with one completed transition, one ledger row whose cost
is the job's (the winner's cost), and the receiver stores one delivery per idempotency key
and never answers 5xx. Each thread has its own database connection (closed when it ends);
threads start together on a ``threading.Barrier``.
"""

from __future__ import annotations

import json
import queue
import random
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.utils import timezone

from tests.concurrency import run_together
from tests.factories import make_job, make_workspace
from tests.webhook_signing import SECRET, event, sign
from videogen.models import (
    EventSource,
    JobEvent,
    JobStatus,
    UsageEntry,
    VideoJob,
    WebhookDelivery,
    WebhookOutcome,
)
from videogen.provider.types import VideoJobSnapshot
from videogen.services.jobs import reconcile
from videogen.services.jobs.lifecycle import job_apply_snapshot
from videogen.services.webhooks.receive import webhook_receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/videogen/webhooks/openrouter/"
WEBHOOK_COST = Decimal("0.50")
POLL_COST = Decimal("0.75")
COST_BY_SOURCE = {EventSource.WEBHOOK: WEBHOOK_COST, EventSource.POLL: POLL_COST}


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": "https://openrouter.test/api/v1",
        "WEBHOOK_SECRETS": [SECRET],
        "POLL_CONCURRENCY": 4,
    }


def completed_snapshot(provider_id: str, cost: Decimal) -> VideoJobSnapshot:
    return VideoJobSnapshot.from_json(
        {
            "id": provider_id,
            "polling_url": f"/api/v1/videos/{provider_id}",
            "status": "completed",
            "generation_id": f"gen-{provider_id}",
            "unsigned_urls": [f"https://sim.test/api/v1/videos/{provider_id}/content?index=0"],
            "usage": {"cost": cost, "is_byok": False},
        }
    )


def signed_headers(body: bytes, key: str) -> dict[str, str]:
    return {
        "X-OpenRouter-Signature": sign(body),
        "X-OpenRouter-Idempotency-Key": key,
        "Content-Type": "application/json",
    }


def post(client: Client, body: bytes, key: str) -> int:
    return client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_OPENROUTER_SIGNATURE=sign(body),
        HTTP_X_OPENROUTER_IDEMPOTENCY_KEY=key,
    ).status_code


class FakeClient:
    """The provider as the sweeps' poll threads see it: every job completed at POLL_COST."""

    def __init__(self) -> None:
        self.calls = Counter()
        self._lock = threading.Lock()

    def get_video(self, provider_job_id: str) -> VideoJobSnapshot:
        with self._lock:
            self.calls[provider_job_id] += 1
        return completed_snapshot(provider_job_id, POLL_COST)

    def poll_videos(self, items, *, concurrency, answer, more_to_come=False) -> FakePollRun:
        """The sweep's many polls: answered on a thread of their own, as the loop does."""
        run = FakePollRun(items, closed=not more_to_come)

        def poll_all() -> None:
            while (taken := run.todo.get()) is not None:
                if run.cancelled:
                    return
                item, provider_job_id = taken
                answer(item, self.get_video(provider_job_id))

        threading.Thread(target=poll_all, daemon=True).start()
        return run


class FakePollRun:
    cancelled = False

    def __init__(self, items, *, closed: bool) -> None:
        self.todo = queue.SimpleQueue()
        self.add(items)
        if closed:
            self.close()

    def add(self, items) -> None:
        for item in items:
            self.todo.put(item)

    def close(self) -> None:
        self.todo.put(None)

    def cancel(self) -> None:
        self.cancelled = True
        self.todo.put(None)

    def failure(self) -> None:
        return None


def in_flight_jobs(count: int, prefix: str) -> list[VideoJob]:
    workspace = make_workspace()
    now = timezone.now()
    return [
        make_job(
            workspace,
            status=JobStatus.PENDING if i % 4 == 0 else JobStatus.IN_PROGRESS,
            provider_job_id=f"{prefix}-{i}",
            duration=8,
            submitted_at=now,
            next_poll_at=now - timedelta(seconds=1),
        )
        for i in range(count)
    ]


def assert_completed_once(job: VideoJob) -> JobEvent:
    """One completed transition, one ledger row matching the job; returns the transition."""
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.pk
    transitions = list(JobEvent.objects.filter(job=job).exclude(from_status=JobStatus.COMPLETED))
    assert len(transitions) == 1, (job.pk, transitions)
    (completion,) = transitions
    assert completion.to_status == JobStatus.COMPLETED
    entries = list(UsageEntry.objects.filter(job=job))
    assert len(entries) == 1, (job.pk, entries)
    assert entries[0].cost == job.cost, (job.pk, entries[0].cost, job.cost)
    assert job.finished_at is not None and job.next_poll_at is None and job.lease_until is None
    return completion


# --- webhook vs poller vs sweep --------------------------------------------------------------
@pytest.mark.parametrize("seed", [11, 2026])
def test_webhooks_pollers_and_sweeps_racing_complete_each_job_once(seed, monkeypatch):
    jobs = in_flight_jobs(20, f"wrace-{seed}")
    bodies = {j.pk: event(j.provider_job_id, cost=float(WEBHOOK_COST)) for j in jobs}
    keys = {j.pk: f"{j.provider_job_id}-completed" for j in jobs}
    fake = FakeClient()
    monkeypatch.setattr(reconcile, "get_client", lambda: fake)

    webhook_threads, poll_threads, sweep_threads = 6, 4, 2

    def webhook_sender(index: int) -> list[int]:
        rng = random.Random(seed * 100 + index)
        plan = [j for j in jobs for _ in range(2)]
        rng.shuffle(plan)
        client = Client()
        return [post(client, bodies[j.pk], keys[j.pk]) for j in plan]

    def poller(index: int) -> list[bool]:
        rng = random.Random(seed * 100 + index)
        plan = list(jobs)
        rng.shuffle(plan)
        return [
            job_apply_snapshot(
                job_id=j.pk,
                snapshot=completed_snapshot(j.provider_job_id, POLL_COST),
                source=EventSource.POLL,
            ).changed
            for j in plan
        ]

    def sweeper(index: int) -> list[reconcile.SweepReport]:
        # Small claims, repeated until nothing is due: the scheduled reconcile_window's shape.
        reports = []
        for _ in range(20):
            reports.append(reconcile.reconcile_sweep(limit=3))
            if reports[-1].claimed == 0:
                break
        return reports

    def worker(index: int, _barrier: threading.Barrier) -> Any:
        if index < webhook_threads:
            return ("webhook", webhook_sender(index))
        if index < webhook_threads + poll_threads:
            return ("poll", poller(index))
        return ("sweep", sweeper(index))

    results = run_together(webhook_threads + poll_threads + sweep_threads, worker, timeout=60)

    answers = Counter(code for kind, r in results if kind == "webhook" for code in r)
    assert answers == Counter({204: webhook_threads * len(jobs) * 2}), answers
    sweep_reports = [rep for kind, r in results if kind == "sweep" for rep in r]
    assert sum(rep.errors for rep in sweep_reports) == 0
    poll_wins = sum(changed for kind, r in results if kind == "poll" for changed in r)
    sweep_wins = sum(rep.transitions for rep in sweep_reports)

    winners = Counter()
    for job in jobs:
        completion = assert_completed_once(job)
        winners[completion.source] += 1
        # The first writer set the cost: the webhook's or the poll's, never a mix.
        assert job.cost == COST_BY_SOURCE[completion.source], (job.pk, completion.source)
    assert winners[EventSource.POLL] == poll_wins + sweep_wins
    assert sum(winners.values()) == len(jobs)

    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == len(jobs)
    assert sorted(d.idempotency_key for d in deliveries) == sorted(keys.values())
    by_key = {d.idempotency_key: d for d in deliveries}
    for job in jobs:
        delivery = by_key[keys[job.pk]]
        assert delivery.outcome == WebhookOutcome.PROCESSED, delivery.error
        assert delivery.signature_valid is True and delivery.job_id == job.pk
    # Every job left the sweeps' hands finished: nothing in flight, no lease running.
    assert not VideoJob.objects.filter(status__in=JobStatus.in_flight()).exists()
    assert not VideoJob.objects.filter(lease_until__isnull=False).exists()


# --- one event, many concurrent deliveries ---------------------------------------------------
def test_the_same_event_delivered_by_ten_threads_is_processed_once():
    (job,) = in_flight_jobs(1, "wdup")
    body = event(job.provider_job_id, cost=1.25)
    key = f"{job.provider_job_id}-completed"

    answers = run_together(
        10, lambda index, _barrier: webhook_receive(body=body, headers=signed_headers(body, key))
    )

    assert [a.status_code for a in answers] == [204] * 10
    delivery = WebhookDelivery.objects.get()
    assert delivery.idempotency_key == key
    assert delivery.outcome == WebhookOutcome.PROCESSED and delivery.job_id == job.pk
    assert {a.delivery_id for a in answers} == {delivery.pk}
    processed = [a for a in answers if a.message.startswith("Job moved")]
    duplicates = [a for a in answers if a.message.startswith("Duplicate delivery")]
    assert len(processed) == 1, [a.message for a in answers]
    assert len(duplicates) == 9, [a.message for a in answers]
    assert_completed_once(job)
    assert job.cost == Decimal("1.25")


def test_concurrent_http_duplicates_across_many_jobs_are_processed_once_each():
    jobs = in_flight_jobs(10, "whttp")
    bodies = [(event(j.provider_job_id, cost=0.3), f"{j.provider_job_id}-completed") for j in jobs]

    def sender(index: int, _barrier: threading.Barrier) -> list[int]:
        client = Client()
        # Every thread walks the same jobs in the same order: maximal collisions per key.
        return [post(client, body, key) for body, key in bodies]

    answers = run_together(10, sender)

    assert Counter(code for codes in answers for code in codes) == Counter({204: 100})
    assert WebhookDelivery.objects.count() == len(jobs)
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {
        WebhookOutcome.PROCESSED
    }
    for job in jobs:
        assert assert_completed_once(job).source == EventSource.WEBHOOK
        assert job.cost == Decimal("0.3")


# --- no provider call under a lock ----------------------------------------------------------------
def test_confirm_by_polling_holds_no_lock_while_the_provider_answers(settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    (job,) = in_flight_jobs(1, "wpoll")
    body = event(job.provider_job_id)
    probes: list[str] = []

    def probe() -> None:
        # Another connection locks the delivery and the job without waiting.
        try:
            with transaction.atomic():
                list(WebhookDelivery.objects.select_for_update(nowait=True).values("pk"))
                list(VideoJob.objects.select_for_update(nowait=True).filter(pk=job.pk).values("pk"))
            probes.append("free")
        except OperationalError as err:
            probes.append(f"locked: {err}")
        finally:
            connection.close()

    def provider(request):
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(timeout=10)
        answer = completed_snapshot(job.provider_job_id, POLL_COST).raw
        return 200, {}, json.dumps(answer, default=str)

    with responses.RequestsMock() as mock:
        mock.add_callback(
            "GET", f"https://openrouter.test/api/v1/videos/{job.provider_job_id}", callback=provider
        )
        assert post(Client(), body, f"{job.provider_job_id}-completed") == 204
    assert probes == ["free"]
    assert_completed_once(job)
    assert job.cost == POLL_COST  # the provider's word, not the request's
