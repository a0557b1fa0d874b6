"""Scale-out, end to end: two ``qcluster`` processes sharing one PostgreSQL database and one
Redis broker finish 200 jobs against the simulator. Every job is submitted once, completes
once with one event per transition, and the ledger matches the provider to the cent.

The test process creates the jobs (``job_create`` enqueues their submission through Redis)
and keeps a few ``videogen.tasks.reconcile`` windows queued, so both clusters' workers sweep
the same table at the same time (``FOR UPDATE SKIP LOCKED`` claims). The clusters use their
own django-q2 queue name (``Q_CLUSTER_NAME``, which is also the signing salt), so parallel runs
on the same Redis never take each other's tasks.

Needs ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``; CI's PostgreSQL pass has both.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Sum
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from tests.factories import make_workspace
from tests.fixtures_simulator import fast_config
from tests.processes import ManagedProcess, database_url
from videogen.models import EventSource, JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.services.catalog import catalog_sync
from videogen.services.jobs.submission import job_create
from videogen.services.queue import SUBMIT_TASK
from videogen.simulator.app import EP_CREATE

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

JOBS = 200
CLUSTERS = 2
WORKERS_PER_CLUSTER = 4
RECONCILE_TASK = "videogen.tasks.reconcile"
RECONCILE_IN_FLIGHT = 4  # reconcile windows kept queued or running (2 per cluster)
STARTUP_TIMEOUT = 30.0
FINISH_TIMEOUT = 60.0
# Fast cadence for the clusters: first poll after 0.5 s, never more than ~1.2 s apart.
CLUSTER_VIDEOGEN = {
    "POLL_INITIAL_DELAY_SECONDS": 0.5,
    "POLL_MAX_DELAY_SECONDS": 1,
    "RECONCILE_WINDOW_SECONDS": 8,
    "RECONCILE_IDLE_SECONDS": 0.2,
    "READ_TIMEOUT": 10,
}
# A mix of models and durations, so the costs differ from job to job.
REQUESTS = [
    {"model": "google/veo-3.1", "duration": 6},
    {"model": "google/veo-3.1", "duration": 8, "generate_audio": False},
    {"model": "bytedance/seedance-1-pro", "duration": 5, "resolution": "1080p"},
    {"model": "minimax/hailuo-02", "duration": 6},
    {"model": "openai/sora-2", "duration": 12, "size": "1280x720"},
]
# "qcluster <proc> processing <task name> '<func>'", logged by a worker as it starts a task.
PROCESSING = re.compile(r"processing (\S+) '([\w.]+)'")


@pytest.fixture
def simulator_config():
    # Slow enough that jobs are seen pending / in progress, fast enough for 200 in seconds.
    return fast_config(pending_seconds=0.5, processing_seconds=1.5, keepalive_timeout_seconds=30)


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail(
            "The scale-out test needs REDIS_URL (django-q2's Redis broker) next to a PostgreSQL "
            "DATABASE_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/15. It is not skipped: the "
            "PostgreSQL run must exercise the Redis broker."
        )
    if django_settings.Q_CLUSTER.get("redis") != url:
        pytest.fail(f"Q_CLUSTER is not on the Redis broker: {django_settings.Q_CLUSTER!r}")
    return url


@pytest.fixture
def queue_name(redis_url, monkeypatch, caplog):
    """A queue of our own on that Redis, used by this process's ``async_task`` too."""
    caplog.set_level(logging.WARNING, logger="django-q")  # not 200 x "Enqueued" here
    name = f"videogen-scale-{uuid.uuid4().hex[:12]}"
    # django-q2 reads these at call time: the queue key (django_q:<name>:q) and the salt
    # tasks are signed with. The clusters get the same from Q_CLUSTER_NAME.
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    broker = get_broker(name)
    try:
        broker.ping()
    except Exception as err:
        pytest.fail(f"Redis at REDIS_URL={redis_url} does not answer: {err}")
    yield name
    broker.delete_queue()


@pytest.fixture
def app_settings(simulator, settings):
    """This process on the simulator too (catalog sync, validation in job_create)."""
    settings.VIDEOGEN = {
        "API_KEY": simulator.api_key,
        "BASE_URL": simulator.base_url,
        "SIMULATOR": True,
    }
    catalog_sync()
    return settings.VIDEOGEN


@pytest.fixture
def qclusters(transactional_db, simulator, redis_url, queue_name, app_settings):
    """Two ``manage.py qcluster`` processes on the test database, the queue and the
    simulator. Stopped (process groups killed) before the test database is flushed."""
    # The schedules made by migrate would start their own reconcile / catalog sync: this test
    # drives reconciliation itself.
    Schedule.objects.all().delete()
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "OPENROUTER_API_KEY",
            "VIDEOGEN_CALLBACK_URL",
            "VIDEOGEN_WEBHOOK_SECRETS",
            "VIDEOGEN_SIMULATOR_URL",
            "DATABASE_CONN_MAX_AGE",
        }
    }
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        REDIS_URL=redis_url,
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS=str(WORKERS_PER_CLUSTER),
        # Tasks are signed with SECRET_KEY: the clusters must share this process's.
        DJANGO_SECRET_KEY=django_settings.SECRET_KEY,
        DJANGO_DEBUG="0",
        OPENROUTER_BASE_URL=simulator.base_url,
        VIDEOGEN_SIMULATOR_API_KEY=simulator.api_key,
        VIDEOGEN_OVERRIDES=json.dumps(CLUSTER_VIDEOGEN),
        PYTHONUNBUFFERED="1",
    )
    clusters: list[ManagedProcess] = []
    try:
        for i in range(CLUSTERS):
            clusters.append(ManagedProcess(f"qcluster{i + 1}", ["qcluster"], env))
        for cluster in clusters:
            cluster.wait_for_output(r"Q Cluster .* running\.", STARTUP_TIMEOUT)
        yield clusters
    except BaseException:
        dump_outputs(clusters)
        raise
    finally:
        for cluster in clusters:
            cluster.stop()
        _wait_for_other_connections_to_close()
        for cluster in clusters:
            cluster.cleanup()


def _wait_for_other_connections_to_close(timeout: float = 10.0) -> None:
    """Killed clusters' backends end a moment later; the flush and DROP DATABASE need them
    gone."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


def dump_outputs(clusters: list[ManagedProcess]) -> None:
    for cluster in clusters:
        print(cluster.dump())


def tasks_started(cluster: ManagedProcess) -> list[tuple[str, str]]:
    """(task name, function) of every task this cluster's workers started."""
    return PROCESSING.findall(cluster.output())


def test_two_clusters_finish_200_jobs_once_with_an_exact_ledger(simulator, qclusters):
    started = time.monotonic()
    try:
        _run_and_check(simulator, qclusters)
    except BaseException:
        dump_outputs(qclusters)
        raise
    print(f"\nscale-out: {JOBS} jobs on {CLUSTERS} clusters in {time.monotonic() - started:.1f}s")


def _run_and_check(simulator, clusters: list[ManagedProcess]) -> None:
    reconciles = 0

    def enqueue_reconcile() -> None:
        nonlocal reconciles
        reconciles += 1
        async_task(RECONCILE_TASK, task_name=f"scale-reconcile-{reconciles}")

    # Reconcile windows first, one by one while both pushers wait on the queue: Redis hands
    # blocked BLPOPs the items in turn, so each cluster gets its share of sweeps.
    for _ in range(RECONCILE_IN_FLIGHT):
        enqueue_reconcile()
        time.sleep(0.1)

    workspace = make_workspace()
    jobs = [
        job_create(
            workspace=workspace,
            data={**REQUESTS[i % len(REQUESTS)], "prompt": f"Scale-out job {i}: a lighthouse"},
        )
        for i in range(JOBS)
    ]
    job_ids = {job.pk for job in jobs}

    # Keep RECONCILE_IN_FLIGHT windows going until every job is terminal.
    deadline = time.monotonic() + FINISH_TIMEOUT
    while True:
        left = VideoJob.objects.exclude(status__in=JobStatus.terminal()).count()
        if left == 0:
            break
        for cluster in clusters:
            assert cluster.alive(), f"{cluster.name} exited with {cluster.proc.returncode}"
        if time.monotonic() > deadline:
            by_status = Counter(VideoJob.objects.values_list("status", flat=True))
            pytest.fail(f"{left} jobs not terminal after {FINISH_TIMEOUT}s: {dict(by_status)}")
        finished = Task.objects.filter(func=RECONCILE_TASK).count()
        for _ in range(RECONCILE_IN_FLIGHT - (reconciles - finished)):
            enqueue_reconcile()
        time.sleep(0.5)

    # The monitors save task results just after the work is done.
    saved_by = time.monotonic() + 10
    while Task.objects.filter(func=SUBMIT_TASK).count() < JOBS and time.monotonic() < saved_by:
        time.sleep(0.1)

    _check_jobs_and_events(job_ids)
    _check_provider_and_ledger(simulator, job_ids)
    _check_both_clusters_worked(clusters, job_ids)


def _check_jobs_and_events(job_ids: set[int]) -> None:
    jobs = list(VideoJob.objects.filter(pk__in=job_ids))
    assert len(jobs) == JOBS
    assert Counter(job.status for job in jobs) == {JobStatus.COMPLETED: JOBS}
    for job in jobs:
        assert job.submit_attempts == 1, job.pk
        assert not job.needs_attention, job.pk
        assert job.provider_job_id and job.cost is not None, job.pk
        assert job.lease_until is None and job.next_poll_at is None, job.pk

    events: dict[int, list[JobEvent]] = {pk: [] for pk in job_ids}
    for event in JobEvent.objects.filter(job_id__in=job_ids).order_by("id"):
        events[event.job_id].append(event)
    saw_in_progress = 0
    for pk, chain in events.items():
        moves = [(e.from_status, e.to_status) for e in chain]
        statuses = [e.to_status for e in chain]
        # One event per transition: each starts where the previous ended, nothing repeats.
        assert [e.from_status for e in chain] == ["", *statuses[:-1]], (pk, moves)
        assert len(set(statuses)) == len(statuses), (pk, moves)
        assert statuses in (
            ["queued", "submitting", "pending", "completed"],
            ["queued", "submitting", "pending", "in_progress", "completed"],
        ), (pk, moves)
        saw_in_progress += "in_progress" in statuses
        sources = [e.source for e in chain]
        assert sources[:3] == [EventSource.API, EventSource.SUBMIT, EventSource.SUBMIT], (
            pk,
            sources,
        )
        assert set(sources[3:]) == {EventSource.POLL}, (pk, sources)
    # Pending 0.5 s then in progress 1.5 s: polls see that (most jobs, on an idle machine).
    assert saw_in_progress > 0
    print(f"\nscale-out: {saw_in_progress} of {JOBS} jobs were seen in progress")


def _check_provider_and_ledger(simulator, job_ids: set[int]) -> None:
    # The provider saw each job once: 200 POSTs, all accepted, 200 jobs in its store.
    stats = simulator.stats.snapshot()
    assert stats["requests"].get(EP_CREATE) == JOBS, stats
    assert stats["faults"] == {}, stats
    assert not [code for code in stats["statuses"] if int(code) >= 400], stats
    provider_ids = set(simulator.state.ids())
    assert len(provider_ids) == JOBS

    provider_cost = {pid: simulator.state.view(pid, count_poll=False).cost for pid in provider_ids}
    jobs = dict(
        VideoJob.objects.filter(pk__in=job_ids).values_list("provider_job_id", "usage_entry__cost")
    )
    assert set(jobs) == provider_ids
    assert jobs == provider_cost

    entries = list(UsageEntry.objects.filter(job_id__in=job_ids).select_related("job"))
    assert len(entries) == JOBS == UsageEntry.objects.count()
    assert {e.job_id for e in entries} == job_ids
    for entry in entries:
        assert entry.model == entry.job.model and entry.workspace_id == entry.job.workspace_id

    ledger_total = UsageEntry.objects.aggregate(total=Sum("cost"))["total"]
    jobs_total = VideoJob.objects.aggregate(total=Sum("usage_entry__cost"))["total"]
    provider_total = sum(provider_cost.values(), Decimal(0))
    assert ledger_total == jobs_total == provider_total, (
        ledger_total,
        jobs_total,
        provider_total,
    )
    assert provider_total > 0 and len(set(provider_cost.values())) == len(REQUESTS)


def _check_both_clusters_worked(clusters: list[ManagedProcess], job_ids: set[int]) -> None:
    # django-q2 stores the queue name as a task's "cluster" (the same for both), so the
    # workers' own log lines tell which process ran which task.
    submitted = [
        {name for name, func in tasks_started(cluster) if func == SUBMIT_TASK}
        for cluster in clusters
    ]
    swept = [
        sum(func == RECONCILE_TASK for _, func in tasks_started(cluster)) for cluster in clusters
    ]
    expected = {f"videogen-submit-{pk}" for pk in job_ids}
    # Each submission task ran exactly once, somewhere, and every cluster ran some.
    assert sum(len(s) for s in submitted) == JOBS, [len(s) for s in submitted]
    assert set().union(*submitted) == expected
    assert all(submitted), [len(s) for s in submitted]
    assert all(swept), swept
    print(
        "\nscale-out: submissions per cluster "
        f"{[len(s) for s in submitted]}, reconcile windows per cluster {swept}"
    )

    results = Task.objects.filter(func=SUBMIT_TASK)
    assert results.count() == JOBS
    assert set(results.values_list("success", flat=True)) == {True}
    assert set(results.values_list("result", flat=True)) == {JobStatus.PENDING}
    assert not Task.objects.filter(success=False).exists()
