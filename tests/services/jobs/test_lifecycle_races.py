"""Racing writers on PostgreSQL: many threads drive ``job_apply_snapshot`` on the same jobs.

Each thread has its own database connection (closed when it ends); threads start together on
a ``threading.Barrier``. Whatever the interleaving, a job ends with one transition into a
terminal state, an event chain without gaps or steps back, at most one ledger row whose cost
is the job's, and signals sent once per transition.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tests.concurrency import run_together
from tests.factories import make_job, make_workspace
from videogen import signals
from videogen.models import EventSource, JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot
from videogen.services.jobs.lifecycle import Transition, job_apply_snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16
SOURCES = (EventSource.POLL, EventSource.WEBHOOK, EventSource.SWEEP)


def snap(provider_id: str, status: str, *, cost: Any = "absent") -> VideoJobSnapshot:
    """A provider observation as the client decodes it (money as ``Decimal``)."""
    data: dict[str, Any] = {
        "id": provider_id,
        "polling_url": f"/api/v1/videos/{provider_id}",
        "status": status,
    }
    if status == "completed":
        data["generation_id"] = f"gen-{provider_id}"
        data["unsigned_urls"] = [f"https://sim.test/api/v1/videos/{provider_id}/content?index=0"]
        if cost != "absent":
            data["usage"] = {"cost": cost, "is_byok": False}
    elif status in ("failed", "cancelled", "expired"):
        data["error"] = f"{status} upstream"
    return VideoJobSnapshot.from_json(data)


def _random_snapshot(rng: random.Random, provider_id: str) -> VideoJobSnapshot:
    kind = rng.choices(
        [
            "pending",
            "in_progress",
            "completed",
            "completed-late-cost",
            "completed-no-usage",
            "failed",
            "cancelled",
            "expired",
            "mystery",
        ],
        weights=[3, 4, 4, 1, 1, 1, 1, 1, 1],
    )[0]
    if kind == "completed":
        return snap(provider_id, "completed", cost=rng.choice([Decimal("0.4"), Decimal("0.55")]))
    if kind == "completed-late-cost":
        return snap(provider_id, "completed", cost=None)
    if kind == "completed-no-usage":
        return snap(provider_id, "completed")
    # "mystery": a status this version does not know (the job keeps its own).
    return snap(provider_id, kind)


def assert_event_chain(job: VideoJob, initial: str) -> list[JobEvent]:
    """Events chain from ``initial`` ("" when the job was created through ``job_create``),
    transitions only move forward and stop at a terminal status; returns the transitions."""
    previous = initial
    transitions = []
    for event in JobEvent.objects.filter(job=job).order_by("id"):
        assert event.from_status == previous, (job.pk, event, previous)
        if event.from_status == "":  # the job's creation (initial status "")
            transitions.append(event)
        elif event.to_status != event.from_status:
            assert JobStatus.rank(event.to_status) > JobStatus.rank(event.from_status), event
            assert previous not in JobStatus.terminal(), f"{job.pk}: moved on from {previous}"
            transitions.append(event)
        else:
            # Only audit rows repeat the status: a late cost filled in after completion.
            assert event.to_status == JobStatus.COMPLETED and "cost" in event.payload, event
        previous = event.to_status
    assert previous == job.status, (job.pk, previous, job.status)
    return transitions


@pytest.mark.parametrize("seed", [7, 2024])
def test_conflicting_snapshots_leave_one_terminal_transition_and_a_consistent_ledger(seed):
    workspace = make_workspace()
    initial_statuses = [JobStatus.SUBMITTING, JobStatus.PENDING, JobStatus.IN_PROGRESS]
    jobs = [
        make_job(
            workspace,
            status=initial_statuses[i % 3],
            provider_job_id=f"job-race-{seed}-{i}",
            duration=8,
        )
        for i in range(10)
    ]
    initial = {job.pk: job.status for job in jobs}

    def writer(index: int, _barrier: threading.Barrier) -> list[tuple[int, Transition]]:
        rng = random.Random(seed * 1000 + index)
        plan = [job for job in jobs for _ in range(3)]
        rng.shuffle(plan)
        done = []
        for job in plan:
            result = job_apply_snapshot(
                job_id=job.pk,
                snapshot=_random_snapshot(rng, job.provider_job_id),
                source=rng.choice(SOURCES),
            )
            done.append((job.pk, result))
        return done

    results = [pair for chunk in run_together(THREADS, writer) for pair in chunk]

    changed = Counter(pk for pk, result in results if result.changed)
    for job in jobs:
        job.refresh_from_db()
        transitions = assert_event_chain(job, initial[job.pk])
        # Every applied transition is one event, and each event came from one winning call.
        assert len(transitions) == changed[job.pk]
        terminal = [e for e in transitions if e.to_status in JobStatus.terminal()]
        if job.status in JobStatus.terminal():
            assert len(terminal) == 1, (job.pk, transitions)
            assert job.finished_at is not None
            assert job.next_poll_at is None and job.lease_until is None
        else:
            assert terminal == []
        entries = list(UsageEntry.objects.filter(job=job))
        assert len(entries) <= 1
        if job.status == JobStatus.COMPLETED and job.usage is not None:
            assert len(entries) == 1, job.pk
        if entries:
            assert job.status == JobStatus.COMPLETED
            assert entries[0].cost == job.cost
            assert job.usage is not None
            assert (job.usage["cost"] is None) == (job.cost is None)
        else:
            assert job.cost is None
    # The random plans reached every kind of ending at least once across the jobs.
    assert {j.status for j in jobs} & JobStatus.terminal()


def test_duplicate_completions_make_one_transition_one_event_one_row_one_signal():
    workspace = make_workspace()
    jobs = [
        make_job(
            workspace,
            status=JobStatus.PENDING if i % 2 else JobStatus.IN_PROGRESS,
            provider_job_id=f"job-dup-{i}",
            duration=4,
        )
        for i in range(5)
    ]
    completed: list[int] = []
    changed_signals: list[tuple[int, str, str]] = []

    def on_completed(sender, job, **kwargs):
        completed.append(job.pk)

    def on_changed(sender, job, from_status, to_status, **kwargs):
        changed_signals.append((job.pk, from_status, to_status))

    signals.job_completed.connect(on_completed, weak=False)
    signals.job_status_changed.connect(on_changed, weak=False)

    def duplicate(index: int, barrier: threading.Barrier) -> list[tuple[int, Transition]]:
        source = EventSource.WEBHOOK if index % 2 else EventSource.POLL
        done = []
        for job in jobs:
            barrier.wait(timeout=10)  # all 16 threads hit this job at the same moment
            snapshot = snap(job.provider_job_id, "completed", cost=Decimal("0.32"))
            done.append(
                (job.pk, job_apply_snapshot(job_id=job.pk, snapshot=snapshot, source=source))
            )
        return done

    try:
        results = [pair for chunk in run_together(THREADS, duplicate) for pair in chunk]
    finally:
        signals.job_completed.disconnect(on_completed)
        signals.job_status_changed.disconnect(on_changed)

    by_job = defaultdict(list)
    for pk, result in results:
        by_job[pk].append(result)
    for job in jobs:
        outcomes = by_job[job.pk]
        assert len(outcomes) == THREADS
        assert sum(r.changed for r in outcomes) == 1
        assert sum(r.ledger_written for r in outcomes) == 1
        assert not any(r.cost_updated for r in outcomes)
        assert all(r.to_status == JobStatus.COMPLETED for r in outcomes)
        job_row = VideoJob.objects.get(pk=job.pk)
        events = list(JobEvent.objects.filter(job=job))
        assert [(e.from_status, e.to_status) for e in events] == [(job.status, "completed")]
        entry = UsageEntry.objects.get(job=job)
        assert entry.cost == job_row.cost == Decimal("0.32")
    assert Counter(completed) == {job.pk: 1 for job in jobs}
    assert Counter(pk for pk, _, _ in changed_signals) == {job.pk: 1 for job in jobs}


def test_racing_late_cost_fills_the_one_ledger_row_once():
    """Half the duplicates carry ``cost: null`` (not known yet), half the real cost."""
    job = make_job(status=JobStatus.IN_PROGRESS, provider_job_id="job-late", duration=6)
    completed: list[int] = []

    def on_completed(sender, job, **kwargs):
        completed.append(job.pk)

    signals.job_completed.connect(on_completed, weak=False)

    def apply(index: int, _barrier: threading.Barrier) -> Transition:
        cost = None if index % 2 else Decimal("1.25")
        return job_apply_snapshot(
            job_id=job.pk, snapshot=snap("job-late", "completed", cost=cost), source="webhook"
        )

    try:
        outcomes = run_together(THREADS, apply)
    finally:
        signals.job_completed.disconnect(on_completed)

    job.refresh_from_db()
    entry = UsageEntry.objects.get(job=job)
    assert entry.cost == job.cost == Decimal("1.25")
    assert sum(r.changed for r in outcomes) == 1
    assert sum(r.ledger_written for r in outcomes) == 1
    assert sum(r.cost_updated for r in outcomes) <= 1
    transitions = assert_event_chain(job, JobStatus.IN_PROGRESS)
    assert [(e.from_status, e.to_status) for e in transitions] == [("in_progress", "completed")]
    audits = JobEvent.objects.filter(job=job, from_status="completed", to_status="completed")
    assert audits.count() == sum(r.cost_updated for r in outcomes)
    assert completed == [job.pk]
