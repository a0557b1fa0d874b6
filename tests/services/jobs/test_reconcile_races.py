"""Racing sweeps on PostgreSQL: claims under ``FOR UPDATE SKIP LOCKED``, parallel sweeps
against the simulator, and webhooks landing while a sweep holds a job's lease.

Each racing thread has its own database connection (closed when it ends) and threads start
together on a ``threading.Barrier`` (``run_together``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.concurrency import run_together
from tests.factories import make_workspace
from tests.services.jobs.test_lifecycle_races import assert_event_chain, snap
from videogen import signals
from videogen.models import EventSource, JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.services.jobs import lifecycle, reconcile
from videogen.services.jobs.lifecycle import job_apply_snapshot
from videogen.services.jobs.reconcile import jobs_claim_due, reconcile_sweep
from videogen.services.jobs.submission import job_create, job_submit
from videogen.simulator.app import EP_GET

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FAR = 600  # seconds: simulator jobs stay pending, rescheduled polls are not due again


# --- claims --------------------------------------------------------------------------------
@pytest.mark.parametrize(("threads", "limit"), [(2, 200), (4, 100), (4, 50)])
def test_concurrent_claims_are_disjoint_and_cover_the_due_jobs(threads, limit):
    workspace = make_workspace()
    now = timezone.now()

    def job(i: int, **fields) -> VideoJob:
        fields.setdefault("status", JobStatus.PENDING if i % 2 else JobStatus.IN_PROGRESS)
        fields.setdefault("next_poll_at", now - timedelta(seconds=1 + i % 50))
        return VideoJob(
            workspace=workspace, model="google/veo-3.1", provider_job_id=f"job-claim-{i}", **fields
        )

    # 300 due (every third with a lease that ran out), and 80 that must never be claimed.
    due = [
        job(i, lease_until=now - timedelta(minutes=1) if i % 3 == 0 else None) for i in range(300)
    ]
    held = [job(i, lease_until=now + timedelta(minutes=1)) for i in range(300, 320)]
    later = [job(i, next_poll_at=now + timedelta(minutes=1)) for i in range(320, 340)]
    finished = [job(i, status=JobStatus.COMPLETED) for i in range(340, 360)]
    queued = [job(i, status=JobStatus.QUEUED) for i in range(360, 380)]
    VideoJob.objects.bulk_create(due + held + later + finished + queued)
    due_ids = set(
        VideoJob.objects.filter(provider_job_id__in=[j.provider_job_id for j in due]).values_list(
            "pk", flat=True
        )
    )
    held_tokens_before = dict(
        VideoJob.objects.filter(lease_until__gt=now).values_list("pk", "lease_token")
    )

    results = run_together(threads, lambda i, b: jobs_claim_due(now=now, limit=limit))

    claimed = [{j.pk for j in result} for result in results]
    union = set().union(*claimed)
    assert sum(len(c) for c in claimed) == len(union), "a job was claimed by two sweeps"
    assert union <= due_ids
    assert all(len(c) <= limit for c in claimed)
    if threads * limit >= len(due_ids):
        assert union == due_ids
    else:
        assert all(len(c) == limit for c in claimed)
    # Each sweep holds its jobs under its own token, in memory and in the database.
    # (With more room than jobs, a sweep that comes last may find nothing left: [].)
    nonempty = [result for result in results if result]
    tokens = [{j.lease_token for j in result} for result in nonempty]
    assert all(len(t) == 1 for t in tokens)
    assert len(set().union(*tokens)) == len(nonempty)
    for result in nonempty:
        token = result[0].lease_token
        assert set(VideoJob.objects.filter(lease_token=token).values_list("pk", flat=True)) == {
            j.pk for j in result
        }
        assert VideoJob.objects.filter(lease_token=token, lease_until__lte=now).count() == 0
    assert (
        dict(VideoJob.objects.filter(pk__in=held_tokens_before).values_list("pk", "lease_token"))
        == held_tokens_before
    )


# --- sweeps against the simulator ----------------------------------------------------------
@pytest.fixture
def sim(app_on_simulator, enqueued, settings):
    """The simulator with jobs that stay pending until a test moves them, and sweeps whose
    rescheduled polls are not due again within the test (each sweep round is explicit)."""
    app_on_simulator.config.apply_patch({"pending_seconds": FAR})
    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "POLL_INITIAL_DELAY_SECONDS": FAR,
        "POLL_MAX_DELAY_SECONDS": FAR,
    }
    return app_on_simulator


@pytest.fixture
def poll_counts(sim, monkeypatch) -> Counter:
    """Polls (``GET /videos/{id}``) the simulator answered, per provider job id."""
    counts: Counter = Counter()
    lock = threading.Lock()
    real_view = sim.state.view

    def counting_view(job_id, *, count_poll=True):
        if count_poll:
            with lock:
                counts[job_id] += 1
        return real_view(job_id, count_poll=count_poll)

    monkeypatch.setattr(sim.state, "view", counting_view)
    return counts


def submit(workspace, prompt="A heron over a lake") -> VideoJob:
    job = job_create(
        workspace=workspace, data={"model": "google/veo-3.1", "prompt": prompt, "duration": 4}
    )
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.provider_job_id
    return job


def make_due() -> None:
    VideoJob.objects.filter(status__in=JobStatus.in_flight()).update(
        next_poll_at=timezone.now() - timedelta(seconds=1)
    )


def test_parallel_sweeps_never_poll_the_same_job(sim, poll_counts, workspace):
    jobs = [submit(workspace) for _ in range(40)]
    provider_ids = {j.provider_job_id for j in jobs}
    sim.config.apply_patch({"latency_seconds": 0.005})

    def sweep_round() -> list[reconcile.SweepReport]:
        make_due()
        poll_counts.clear()
        gets_before = sim.stats.requests(EP_GET)
        reports = run_together(2, lambda i, b: reconcile_sweep(limit=25, concurrency=8))
        gets = sim.stats.requests(EP_GET) - gets_before
        assert sum(r.polled for r in reports) == gets == sum(poll_counts.values())
        assert all(r.errors == 0 for r in reports), [r.error_samples for r in reports]
        return reports

    # Round 1: every job polled exactly once, split between the two sweeps.
    reports = sweep_round()
    # (Each sweep claims in parts as it polls, so how the 40 split between them varies.)
    assert sum(r.claimed for r in reports) == len(jobs)
    assert all(r.claimed <= 25 for r in reports)
    assert poll_counts == {pid: 1 for pid in provider_ids}
    for job in VideoJob.objects.filter(pk__in=[j.pk for j in jobs]):
        assert job.status == JobStatus.PENDING and job.poll_attempts == 1
        assert job.lease_until is None and job.lease_token is None
        assert job.next_poll_at > timezone.now() + timedelta(seconds=FAR / 2)

    # Round 2: half the jobs started; each seen once more, moved once.
    started = sorted(provider_ids)[::2]
    for pid in started:
        sim.state.set_status(pid, "in_progress")
    reports = sweep_round()
    assert poll_counts == {pid: 1 for pid in provider_ids}
    assert sum(r.transitions for r in reports) == len(started)

    # Round 3: all finish; each polled once, completed once, one ledger row each.
    for pid in provider_ids:
        sim.state.set_status(pid, "completed")
    reports = sweep_round()
    assert poll_counts == {pid: 1 for pid in provider_ids}
    assert sum(r.transitions for r in reports) == len(jobs)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED and job.poll_attempts == 2
        assert job.next_poll_at is None and job.lease_until is None
        entry = UsageEntry.objects.get(job=job)
        assert entry.cost == job.cost and job.cost > 0
        transitions = assert_event_chain(job, "")
        path = [e.to_status for e in transitions]
        middle = ["in_progress"] if job.provider_job_id in started else []
        assert path == ["queued", "submitting", "pending", *middle, "completed"]
    assert UsageEntry.objects.count() == len(jobs)

    # Round 4: nothing is in flight, so nothing is claimed or polled.
    reports = sweep_round()
    assert [r.claimed for r in reports] == [0, 0] and poll_counts == {}


# --- a webhook landing while a sweep holds the lease ---------------------------------------
def webhook_completion(sim, job: VideoJob):
    """The provider's ``video.completed`` webhook for ``job``, with the provider's cost."""
    cost = sim.state.view(job.provider_job_id, count_poll=False).cost
    return snap(job.provider_job_id, "completed", cost=cost), cost


@pytest.mark.parametrize("provider_says", ["pending", "in_progress", "completed"])
def test_a_webhook_completing_a_leased_job_beats_the_sweeps_stale_poll(
    sim, poll_counts, workspace, monkeypatch, provider_says
):
    """The sweep claimed the job and its poll is in flight when the webhook completes it.
    The poll's answer (stale or duplicate) changes nothing, the job is not rescheduled, and
    later sweeps never poll it again."""
    job = submit(workspace)
    if provider_says != "pending":
        sim.state.set_status(job.provider_job_id, provider_says)
    make_due()
    polling, webhook_done = threading.Event(), threading.Event()
    real_poll = reconcile._poll

    def held_poll(leased_job):
        polling.set()
        if not webhook_done.wait(10):
            raise AssertionError("the webhook never came")
        return real_poll(leased_job)

    monkeypatch.setattr(reconcile, "_poll", held_poll)
    sweep: list = []

    def sweep_in_background() -> None:
        try:
            sweep.append(reconcile_sweep())
        except BaseException as err:
            sweep.append(err)
        finally:
            connection.close()

    thread = threading.Thread(target=sweep_in_background, daemon=True)
    thread.start()
    try:
        assert polling.wait(10), "the sweep never polled"
        leased = VideoJob.objects.get(pk=job.pk)
        assert leased.lease_token is not None and leased.lease_until > timezone.now()
        snapshot, cost = webhook_completion(sim, job)
        result = job_apply_snapshot(job_id=job.pk, snapshot=snapshot, source=EventSource.WEBHOOK)
        assert result.changed and result.ledger_written
    finally:
        webhook_done.set()
        thread.join(20)
    assert not thread.is_alive()
    monkeypatch.setattr(reconcile, "_poll", real_poll)

    (report,) = sweep
    assert not isinstance(report, BaseException), report
    assert (report.claimed, report.polled, report.transitions, report.errors) == (1, 1, 0, 0)
    assert poll_counts == {job.provider_job_id: 1}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.next_poll_at is None and job.lease_until is None
    assert job.poll_attempts == 0  # the stale poll's bookkeeping was not written back
    assert UsageEntry.objects.get(job=job).cost == job.cost == cost
    terminal = [e for e in assert_event_chain(job, "") if e.to_status in JobStatus.terminal()]
    assert [(e.from_status, e.source) for e in terminal] == [("pending", "webhook")]

    # Later sweeps leave it alone.
    make_due()
    assert reconcile_sweep().claimed == 0
    assert poll_counts == {job.provider_job_id: 1}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.next_poll_at is None


def test_webhooks_racing_a_sweep_keep_completed_jobs_out_of_the_schedule(
    sim, poll_counts, workspace
):
    """A sweep polls 40 pending jobs while webhooks complete them all in random order."""
    jobs = [submit(workspace) for _ in range(40)]
    webhooks = {job.pk: webhook_completion(sim, job) for job in jobs}
    sim.config.apply_patch({"latency_seconds": 0.01})
    make_due()

    def actor(index, barrier):
        if index == 0:
            return reconcile_sweep(concurrency=4)
        rng = random.Random(index)
        order = list(jobs)
        rng.shuffle(order)
        outcomes = []
        for job in order:
            snapshot, _ = webhooks[job.pk]
            outcomes.append(
                job_apply_snapshot(job_id=job.pk, snapshot=snapshot, source=EventSource.WEBHOOK)
            )
            time.sleep(rng.random() * 0.004)
        return outcomes

    report, outcomes = run_together(2, actor)
    assert all(r.changed and r.ledger_written for r in outcomes)
    assert report.transitions == 0 and report.errors == 0
    assert report.polled == report.claimed <= len(jobs)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED, job.pk
        assert job.next_poll_at is None and job.lease_until is None, job.pk
        assert UsageEntry.objects.get(job=job).cost == job.cost == webhooks[job.pk][1]
        events = JobEvent.objects.filter(job=job, to_status=JobStatus.COMPLETED)
        assert [(e.from_status, e.source) for e in events] == [("pending", "webhook")]
    polled = dict(poll_counts)
    assert all(count == 1 for count in polled.values())

    make_due()
    assert reconcile_sweep().claimed == 0
    assert dict(poll_counts) == polled
    assert UsageEntry.objects.count() == len(jobs)


def test_sweeps_and_duplicate_webhooks_all_at_once(sim, poll_counts, workspace):
    """Two sweeps, and two webhook senders delivering each completion twice, all together:
    every job completed once, one ledger row, never polled twice, never rescheduled."""
    jobs = [submit(workspace) for _ in range(30)]
    for job in jobs[::3]:
        sim.state.set_status(job.provider_job_id, "completed")  # the poll may win these
    webhooks = {job.pk: webhook_completion(sim, job) for job in jobs}
    sim.config.apply_patch({"latency_seconds": 0.005})
    make_due()

    def actor(index, barrier):
        if index < 2:
            return reconcile_sweep(limit=20, concurrency=4)
        rng = random.Random(index)
        order = list(jobs) * 2
        rng.shuffle(order)
        for job in order:
            job_apply_snapshot(job_id=job.pk, snapshot=webhooks[job.pk][0], source="webhook")
        return None

    reports = run_together(4, actor)[:2]
    assert all(r.errors == 0 for r in reports)
    assert all(count == 1 for count in poll_counts.values())
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert job.next_poll_at is None and job.lease_until is None
        assert UsageEntry.objects.get(job=job).cost == job.cost == webhooks[job.pk][1]
        terminal = [e for e in assert_event_chain(job, "") if e.to_status == "completed"]
        assert len(terminal) == 1
    assert UsageEntry.objects.count() == len(jobs)
    assert sum(r.transitions for r in reports) <= len(jobs[::3])


# --- re-enqueueing queued jobs -------------------------------------------------------------
def test_parallel_sweeps_enqueue_each_due_queued_job_once(enqueued):
    """Two sweeps find the same queued jobs due at once: each job's submission is enqueued
    by one of them (the deadline is pushed "so a concurrent sweep does not enqueue the same
    jobs again")."""
    workspace = make_workspace()
    VideoJob.objects.bulk_create(
        VideoJob(workspace=workspace, model="google/veo-3.1", status=JobStatus.QUEUED)
        for _ in range(60)
    )
    ids = set(VideoJob.objects.values_list("pk", flat=True))
    for _ in range(10):
        now = timezone.now()
        VideoJob.objects.update(next_poll_at=now - timedelta(seconds=5))
        enqueued.clear()
        counts = run_together(2, lambda i, b: reconcile.jobs_requeue_due(now=now))
        assert set(enqueued) == ids
        assert Counter(enqueued) == {pk: 1 for pk in ids}, "a job was enqueued twice"
        assert sum(counts) == len(ids)
        assert not VideoJob.objects.filter(next_poll_at__lte=now).exists()


# --- the sweep's batch apply against webhooks ------------------------------------------------


@pytest.fixture
def completions_heard():
    """``job_completed`` signals received, by job id (from any thread)."""
    heard: Counter = Counter()
    lock = threading.Lock()

    def receiver(sender, job, **kwargs):
        with lock:
            heard[job.pk] += 1

    signals.job_completed.connect(receiver, weak=False)
    yield heard
    signals.job_completed.disconnect(receiver)


def waiting_on_a_lock(seconds: float = 10) -> bool:
    """True once another backend of this database waits on a row lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


def assert_completed_once(jobs, webhooks, heard, fetches) -> None:
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED, job.pk
        assert UsageEntry.objects.get(job=job).cost == job.cost == webhooks[job.pk][1]
        terminal = [e for e in assert_event_chain(job, "") if e.to_status == "completed"]
        assert len(terminal) == 1, job.pk
        assert heard[job.pk] == 1, job.pk
        assert fetches.count(job.pk) == 1, job.pk
    assert UsageEntry.objects.count() == len(jobs)


def test_batched_completions_racing_duplicate_webhooks_complete_each_job_once(
    sim, poll_counts, workspace, settings, completions_heard, enqueued_fetches
):
    """Every poll completes its job, applied 7 to a batch, while two senders deliver each
    completion's webhook in random order: one event, one ledger row, one ``job_completed``
    and one output download per job, whoever wins."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "RECONCILE_APPLY_BATCH_SIZE": 7}
    jobs = [submit(workspace) for _ in range(42)]
    for job in jobs:
        sim.state.set_status(job.provider_job_id, "completed")
    webhooks = {job.pk: webhook_completion(sim, job) for job in jobs}
    sim.config.apply_patch({"latency_seconds": 0.003})
    make_due()

    def actor(index, barrier):
        if index == 0:
            return reconcile_sweep(concurrency=8)
        rng = random.Random(index)
        order = list(jobs)
        rng.shuffle(order)
        return [
            job_apply_snapshot(job_id=job.pk, snapshot=webhooks[job.pk][0], source="webhook")
            for job in order
        ]

    report, *deliveries = run_together(3, actor)
    assert report.errors == 0 and report.polled == report.claimed  # webhooks may finish first
    won_by_webhooks = sum(r.changed for outcomes in deliveries for r in outcomes)
    assert report.transitions + won_by_webhooks == len(jobs)
    assert_completed_once(jobs, webhooks, completions_heard, enqueued_fetches)


@pytest.mark.parametrize("first", ["webhook", "batch"])
def test_a_webhook_and_a_batch_on_the_same_rows_wait_for_each_other(
    sim, workspace, monkeypatch, completions_heard, enqueued_fetches, first
):
    """The sweep has claimed and polled the jobs; the webhook for one of them holds its row
    lock when the batch comes (or the batch holds it when the webhook comes). The later one
    waits, then sees the job completed and writes nothing: no event, ledger row or signal."""
    jobs = [submit(workspace) for _ in range(5)]
    for job in jobs:
        sim.state.set_status(job.provider_job_id, "completed")
    webhooks = {job.pk: webhook_completion(sim, job) for job in jobs}
    contested = jobs[2]
    make_due()
    polled, holding, release = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, object] = {}
    real_answer, real_ledger_write_many = reconcile._result_of, lifecycle.ledger_write_many

    def answer_once_the_webhook_holds_the_lock(job, outcome):
        polled.set()
        if first == "webhook":
            holding.wait(10)
        return real_answer(job, outcome)

    def ledger_write_many_then_hold(*args, **kwargs):
        written = real_ledger_write_many(*args, **kwargs)
        if first == "batch":
            holding.set()
            release.wait(10)
        return written

    monkeypatch.setattr(reconcile, "_result_of", answer_once_the_webhook_holds_the_lock)
    monkeypatch.setattr(lifecycle, "ledger_write_many", ledger_write_many_then_hold)

    def sweep() -> None:
        try:
            results["sweep"] = reconcile_sweep(concurrency=5)
        finally:
            connection.close()

    def webhook() -> None:
        try:
            with transaction.atomic():
                results["webhook"] = job_apply_snapshot(
                    job_id=contested.pk, snapshot=webhooks[contested.pk][0], source="webhook"
                )
                if first == "webhook":
                    holding.set()
                    release.wait(10)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, daemon=True)]
    threads[0].start()
    try:
        assert polled.wait(10), "the sweep never polled"
        if first == "batch":
            assert holding.wait(10), "the batch never wrote"
        threads.append(threading.Thread(target=webhook, daemon=True))
        threads[1].start()
        if first == "webhook":
            assert holding.wait(10), "the webhook never took the lock"
        assert waiting_on_a_lock(), "the other writer did not wait for the row lock"
    finally:
        release.set()
        holding.set()
        for thread in threads:
            thread.join(20)
    assert not any(thread.is_alive() for thread in threads)

    report, delivered = results["sweep"], results["webhook"]
    assert report.errors == 0 and report.polled == len(jobs)
    if first == "webhook":
        assert delivered.changed and report.transitions == len(jobs) - 1
    else:
        assert not delivered.changed and not delivered.ledger_written
        assert report.transitions == len(jobs)
    assert_completed_once(jobs, webhooks, completions_heard, enqueued_fetches)
    source = JobEvent.objects.get(job=contested, to_status="completed").source
    assert source == first.replace("batch", "poll")
