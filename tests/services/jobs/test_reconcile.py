import itertools
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from videogen import tasks
from videogen.conf import videogen_settings
from videogen.models import JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.services.jobs.reconcile import (
    jobs_claim_due,
    reconcile_sweep,
)
from videogen.services.jobs.submission import job_create, job_submit

pytestmark = pytest.mark.django_db


def submit(workspace, prompt="A fox in snow", **extra):
    job = job_create(
        workspace=workspace,
        data={"model": "google/veo-3.1", "prompt": prompt, "duration": 4, **extra},
    )
    job_submit(job_id=job.pk)
    job.refresh_from_db()
    return job


def sweep_until_settled(max_sweeps=40):
    for _ in range(max_sweeps):
        report = reconcile_sweep()
        if not VideoJob.objects.filter(status__in=JobStatus.in_flight()).exists():
            return report
        VideoJob.objects.filter(status__in=JobStatus.in_flight()).update(
            next_poll_at=timezone.now()
        )
        time.sleep(0.05)
    raise AssertionError("jobs did not settle")


@pytest.fixture(autouse=True)
def _wired(app_on_simulator, enqueued):
    return app_on_simulator


def test_sweep_takes_jobs_to_completion_and_writes_the_ledger_once(workspace):
    jobs = [submit(workspace) for _ in range(5)]
    assert all(j.status == JobStatus.PENDING for j in jobs)
    sweep_until_settled()
    sweep_until_settled()
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert job.unsigned_urls and job.cost > 0
        assert UsageEntry.objects.get(job=job).cost == job.cost
    assert UsageEntry.objects.count() == 5


@pytest.mark.parametrize(
    ("marker", "status"),
    [("[sim:fail]", "failed"), ("[sim:cancel]", "cancelled"), ("[sim:expire]", "expired")],
)
def test_unsuccessful_endings_are_mirrored(workspace, marker, status):
    job = submit(workspace, prompt=f"A fox {marker}")
    sweep_until_settled()
    job.refresh_from_db()
    assert job.status == status
    assert job.finished_at is not None
    assert not UsageEntry.objects.filter(job=job, cost__gt=0).exists()


def test_late_cost_fills_the_ledger_once(workspace):
    job = submit(workspace, prompt="A fox [sim:late-cost]")
    sweep_until_settled()
    entry = UsageEntry.objects.get(job=job)
    assert entry.cost is None
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    # A completed job is not polled again by the sweep; a late cost arrives by poll-now.
    from videogen.provider.client import get_client
    from videogen.services.jobs.lifecycle import job_apply_snapshot

    job_apply_snapshot(
        job_id=job.pk, snapshot=get_client().get_video(job.provider_job_id), source="poll"
    )
    entry.refresh_from_db()
    assert entry.cost is not None and entry.cost > Decimal(0)


def test_a_job_the_provider_forgot_fails_after_repeated_404s(workspace, app_on_simulator, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "NOT_FOUND_LIMIT": 3}
    job = submit(workspace)
    app_on_simulator.state.forget(job.provider_job_id)
    for _ in range(2):
        reconcile_sweep()
        job.refresh_from_db()
        assert job.status in JobStatus.in_flight() and job.not_found_count >= 1
    reconcile_sweep()
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == ("failed", "not_found_at_provider")
    assert "Not found at provider" in job.error


def test_rate_limit_pushes_the_next_poll_past_retry_after(workspace, app_on_simulator):
    job = submit(workspace)
    app_on_simulator.config.apply_patch({"rate_limit_rate": 1.0, "retry_after_seconds": 120})
    before = timezone.now()
    report = reconcile_sweep()
    job.refresh_from_db()
    assert report.errors == 1 and job.status == JobStatus.PENDING
    assert job.next_poll_at >= before + timedelta(seconds=120)
    assert "429" in job.last_error
    assert job.lease_token is None


@pytest.mark.parametrize("fault", ["server_error_rate", "malformed_rate", "reset_rate"])
def test_faults_leave_jobs_in_flight_and_never_stop_the_sweep(workspace, app_on_simulator, fault):
    jobs = [submit(workspace) for _ in range(4)]
    app_on_simulator.config.apply_patch({fault: 1.0})
    report = reconcile_sweep()
    assert report.polled == 4 and report.errors == 4
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING and job.last_error
    app_on_simulator.config.apply_patch({fault: 0.0})
    sweep_until_settled()
    assert VideoJob.objects.filter(status=JobStatus.COMPLETED).count() == 4


def test_jobs_past_the_deadline_fail(workspace):
    job = submit(workspace)
    VideoJob.objects.filter(pk=job.pk).update(submitted_at=timezone.now() - timedelta(days=2))
    reconcile_sweep()
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == ("failed", "deadline_exceeded")


def test_a_leased_job_is_not_claimed_again(workspace):
    submit(workspace)
    now = timezone.now()
    first = jobs_claim_due(now=now, limit=10)
    second = jobs_claim_due(now=now, limit=10)
    assert len(first) == 1 and second == []


@pytest.mark.postgres
def test_leasing_due_jobs_writes_no_index_entry_on_postgresql(workspace):
    """The jobs table keeps room on its pages (fillfactor, migration 0013), so a claim's
    lease is a HOT update: the new row version stays on its page and no index is touched."""
    now = timezone.now()
    VideoJob.objects.bulk_create(
        VideoJob(
            workspace=workspace,
            model="google/veo-3.1",
            prompt="A fox in snow " * 10,
            status=JobStatus.PENDING,
            provider_job_id=f"hot-{i}",
            next_poll_at=now - timedelta(seconds=1) if i % 8 == 0 else now + timedelta(hours=1),
        )
        for i in range(800)
    )

    def updates() -> tuple[int, int]:
        """Rows this transaction has updated in the jobs table, and how many of them HOT."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                [VideoJob._meta.db_table],
            )
            return cursor.fetchone()

    with transaction.atomic():  # the counters are this transaction's
        updated_before, hot_before = updates()
        claimed = jobs_claim_due(now=now, limit=1000)
        updated, hot = updates()
        updated, hot = updated - updated_before, hot - hot_before

    assert len(claimed) == 100
    assert updated == hot == 100


@pytest.mark.postgres
def test_jobs_a_sweep_completes_with_their_cost_are_not_locked_again_for_a_next_poll(workspace):
    """Completed and priced by the sweep's batch: nothing is left to schedule, so the sweep
    locks them twice in all (its claim, the batch's apply), never a third time to find out
    that they need no next poll."""
    jobs = [submit(workspace, prompt=f"A fox {i}") for i in range(5)]
    time.sleep(0.3)  # the simulator's jobs have ended (fast_config: ~0.15 s)
    VideoJob.objects.update(next_poll_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        report = reconcile_sweep()

    assert (report.polled, report.transitions) == (5, 5)
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(locks) == 2, locks
    for job in VideoJob.objects.filter(pk__in=[job.pk for job in jobs]):
        assert job.status == JobStatus.COMPLETED and job.cost is not None
        assert job.next_poll_at is None and job.lease_until is None


def test_events_match_transitions(workspace):
    job = submit(workspace)
    sweep_until_settled()
    events = list(JobEvent.objects.filter(job=job).values_list("from_status", "to_status"))
    assert events[0] == ("", "queued")
    for (_, to), (frm, _) in itertools.pairwise(events):
        assert to == frm
    assert events[-1][1] == "completed"


# One job is polled on the blocking client, several on the event loop: both must hold.
@pytest.mark.parametrize("jobs", [1, 3], ids=["one job", "several jobs"])
def test_a_provider_slower_than_the_read_timeout_is_retried_later(
    workspace, app_on_simulator, settings, jobs
):
    submitted = [submit(workspace, prompt=f"A fox {i}") for i in range(jobs)]
    settings.VIDEOGEN = {**settings.VIDEOGEN, "READ_TIMEOUT": 0.2}
    app_on_simulator.config.apply_patch({"latency_seconds": 1.0})
    report = reconcile_sweep()
    assert report.errors == jobs
    for job in submitted:
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING
        assert "timed out" in job.last_error.lower() or "timeout" in job.last_error.lower()
        assert job.lease_token is None
    app_on_simulator.config.apply_patch({"latency_seconds": 0.0})
    sweep_until_settled()
    for job in submitted:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED


def test_a_sweep_writing_as_answers_come_leaves_every_job_polled_once_and_released(
    workspace, settings
):
    """The sweep applies and reschedules batch by batch while it polls (a batch of 2 here):
    answers of every kind (changes, errors, no news) are all applied, and each job still
    waiting has one poll counted, its lease released and its next poll written."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "RECONCILE_APPLY_BATCH_SIZE": 2}
    failing = [submit(workspace, prompt=f"A fox {i} [sim:fail]") for i in range(3)]
    lost = [submit(workspace, prompt=f"A lost fox {i}") for i in range(3)]
    VideoJob.objects.filter(pk__in=[job.pk for job in lost]).update(
        provider_job_id=Concat(Value("gone-"), "provider_job_id")
    )
    others = [submit(workspace, prompt=f"A fox {i}") for i in range(3)]
    time.sleep(0.3)  # the simulator's jobs have ended (fast_config: ~0.15 s)
    VideoJob.objects.update(next_poll_at=timezone.now())
    before = timezone.now()

    report = reconcile_sweep()

    assert (report.claimed, report.polled) == (9, 9)
    jobs = {job.pk: job for job in VideoJob.objects.all()}
    waiting = [job for job in jobs.values() if job.status in JobStatus.in_flight()]
    assert waiting and all(job.poll_attempts == 1 and not job.lease_token for job in waiting)
    for job in (jobs[j.pk] for j in lost):
        assert (job.status, job.not_found_count) == (JobStatus.PENDING, 1)
        assert job.next_poll_at > before
    for job in (jobs[j.pk] for j in failing):
        assert job.status == JobStatus.FAILED and job.next_poll_at is None
    for job in (jobs[j.pk] for j in others):
        assert job.status in JobStatus.in_flight() | {JobStatus.COMPLETED}
        assert (job.next_poll_at is None) == (job.status == JobStatus.COMPLETED)
        assert job.next_poll_at is None or job.next_poll_at > before


def test_a_sweep_left_early_starts_no_poll_nobody_would_read(workspace, app_on_simulator, settings):
    """When the sweep's own thread fails (here its progress callback), the polling loop
    takes no further job and no further part is claimed: what was claimed stays leased
    until the lease ends, and is polled then."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "POLL_CONCURRENCY": 1}
    for i in range(8):
        submit(workspace, prompt=f"A fox {i}")
    app_on_simulator.config.apply_patch({"latency_seconds": 0.05})
    app_on_simulator.stats.reset()

    def fail(done, total):
        raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        reconcile_sweep(progress=fail)
    time.sleep(0.3)  # a poll taken before the failure has ended by now
    assert app_on_simulator.stats.requests("GET /videos/{id}") <= 2


def test_a_sweep_claims_in_parts_as_it_polls_and_polls_each_due_job_once(
    workspace, app_on_simulator, settings
):
    """The first polls go out after a first small claim (twice the polls in flight), the
    rest is claimed in growing parts while they run: ``progress`` sees what was claimed so
    far grow, and in the end every due job was polled once and released."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "POLL_CONCURRENCY": 2}
    app_on_simulator.config.apply_patch({"pending_seconds": 600})
    jobs = [submit(workspace, prompt=f"A fox {i}") for i in range(20)]
    VideoJob.objects.update(next_poll_at=timezone.now())
    totals = []

    report = reconcile_sweep(progress=lambda done, total: totals.append(total))

    assert (report.claimed, report.polled, report.errors) == (20, 20, 0)
    assert totals[0] == 4 and totals[-1] == 20 and totals == sorted(totals)
    assert len(set(totals)) > 2, "claimed in more than two parts"
    for job in VideoJob.objects.filter(pk__in=[job.pk for job in jobs]):
        assert job.poll_attempts == 1 and job.lease_token is None and job.lease_until is None


def test_a_sweep_claims_no_more_than_its_limit_across_parts(workspace, app_on_simulator, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "POLL_CONCURRENCY": 2}
    app_on_simulator.config.apply_patch({"pending_seconds": 600})
    for i in range(15):
        submit(workspace, prompt=f"A fox {i}")
    VideoJob.objects.update(next_poll_at=timezone.now())

    report = reconcile_sweep(limit=9)

    assert (report.claimed, report.polled) == (9, 9)
    jobs = VideoJob.objects.filter(status=JobStatus.PENDING, lease_token__isnull=True)
    assert jobs.filter(poll_attempts=1).count() == 9
    assert jobs.filter(poll_attempts=0).count() == 6


def test_each_part_of_a_sweep_is_leased_from_its_own_claim(workspace, app_on_simulator, settings):
    """A part claimed late in a long sweep still gets the whole ``POLL_LEASE_SECONDS``: were
    every lease counted from the sweep's start, the parts claimed after that long would be
    free to another sweep before they were polled."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "POLL_CONCURRENCY": 2}
    app_on_simulator.config.apply_patch({"pending_seconds": 600, "latency_seconds": 0.1})
    for i in range(12):
        submit(workspace, prompt=f"A fox {i}")
    VideoJob.objects.update(next_poll_at=timezone.now())
    started = timezone.now()
    leases = set()

    def note_leases(done, total):
        leases.update(
            VideoJob.objects.filter(lease_token__isnull=False).values_list("lease_until", flat=True)
        )

    report = reconcile_sweep(progress=note_leases)

    assert report.polled == 12
    lease = timedelta(seconds=videogen_settings.POLL_LEASE_SECONDS)
    assert min(leases) >= started + lease
    assert max(leases) - min(leases) >= timedelta(seconds=0.2), "later parts, later leases"


def test_the_scheduled_window_claims_no_part_after_it_ends(workspace, app_on_simulator, settings):
    """The reconcile task's sweep stops claiming when its window is over, whatever
    ``RECONCILE_BATCH_SIZE`` allows: it polls the part it has (twice the polls in flight)
    and leaves the other due jobs unleased for the next run."""
    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "POLL_CONCURRENCY": 2,
        "RECONCILE_WINDOW_SECONDS": 0,
        "RECONCILE_IDLE_SECONDS": 0.1,
    }
    app_on_simulator.config.apply_patch({"pending_seconds": 600})
    for i in range(30):
        submit(workspace, prompt=f"A fox {i}")
    VideoJob.objects.update(next_poll_at=timezone.now())

    assert tasks.reconcile().startswith("1 sweeps; last: claimed 4, polled 4,")

    pending = VideoJob.objects.filter(status=JobStatus.PENDING, lease_token__isnull=True)
    assert pending.filter(poll_attempts=1).count() == 4
    assert pending.filter(poll_attempts=0, next_poll_at__lte=timezone.now()).count() == 26


def test_a_bug_in_a_poll_reaches_the_sweeps_caller(workspace, monkeypatch):
    """Anything but a provider error (a bug) is raised in the sweep's thread, as if it had
    polled itself, rather than lost in the polling loop while the sweep waits for it."""
    from videogen.provider.types import VideoJobSnapshot

    for i in range(3):
        submit(workspace, prompt=f"A fox {i}")
    VideoJob.objects.update(next_poll_at=timezone.now())

    def broken(data):
        raise RuntimeError("a bug in the poll")

    monkeypatch.setattr(VideoJobSnapshot, "from_json", staticmethod(broken))
    with pytest.raises(RuntimeError, match="a bug in the poll"):
        reconcile_sweep()
