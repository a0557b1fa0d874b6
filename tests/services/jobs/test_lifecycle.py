import itertools
from decimal import Decimal

import pytest
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_job
from videogen import signals
from videogen.models import EventSource, JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot, VideoStatus
from videogen.services.jobs.lifecycle import job_apply_snapshot, job_transition

pytestmark = pytest.mark.django_db


def snapshot(status: str, *, cost=None, usage=True, **extra) -> VideoJobSnapshot:
    data = {"id": "job-1", "polling_url": "/api/v1/videos/job-1", "status": status, **extra}
    if usage and status == "completed":
        data["usage"] = {"cost": cost, "is_byok": False}
    return VideoJobSnapshot.from_json(data)


@pytest.fixture
def pending_job():
    return make_job(status=JobStatus.PENDING, provider_job_id="job-1", duration=8)


def test_forward_transition_writes_one_event_with_its_source(pending_job):
    result = job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("in_progress"), source=EventSource.POLL
    )
    assert result.changed and result.to_status == JobStatus.IN_PROGRESS
    event = JobEvent.objects.get(job=pending_job)
    assert (event.from_status, event.to_status, event.source) == ("pending", "in_progress", "poll")


def test_rank_never_moves_backwards(pending_job):
    job_apply_snapshot(job_id=pending_job.pk, snapshot=snapshot("in_progress"), source="poll")
    result = job_apply_snapshot(job_id=pending_job.pk, snapshot=snapshot("pending"), source="poll")
    assert not result.changed
    assert VideoJob.objects.get(pk=pending_job.pk).status == JobStatus.IN_PROGRESS
    assert JobEvent.objects.filter(job=pending_job).count() == 1


def test_terminal_is_final_and_late_events_do_not_rewrite_it(pending_job):
    job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("completed", cost=0.5), source="webhook"
    )
    result = job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("failed", error="boom"), source="poll"
    )
    job = VideoJob.objects.get(pk=pending_job.pk)
    assert not result.changed
    assert job.status == JobStatus.COMPLETED and job.error == ""
    assert job.finished_at is not None and job.next_poll_at is None


def test_completion_writes_the_ledger_once_with_decimal_cost(pending_job):
    for _ in range(3):
        job_apply_snapshot(
            job_id=pending_job.pk,
            snapshot=VideoJobSnapshot.from_json(
                {
                    "id": "job-1",
                    "polling_url": "/p",
                    "status": "completed",
                    "usage": {"cost": Decimal("0.1"), "is_byok": False},
                }
            ),
            source="poll",
        )
    entry = UsageEntry.objects.get(job=pending_job)
    assert entry.cost == Decimal("0.1")
    assert entry.workspace_id == pending_job.workspace_id and entry.duration == 8
    assert VideoJob.objects.get(pk=pending_job.pk).cost == Decimal("0.1")
    assert JobEvent.objects.filter(job=pending_job).count() == 1


def test_late_cost_updates_the_entry_once_with_an_audit_event(pending_job):
    job_apply_snapshot(job_id=pending_job.pk, snapshot=snapshot("completed"), source="webhook")
    assert UsageEntry.objects.get(job=pending_job).cost is None
    for _ in range(2):
        result = job_apply_snapshot(
            job_id=pending_job.pk,
            snapshot=snapshot("completed", cost=Decimal("0.75")),
            source="poll",
        )
    assert UsageEntry.objects.get(job=pending_job).cost == Decimal("0.75")
    audit = JobEvent.objects.filter(job=pending_job, from_status="completed", to_status="completed")
    assert audit.count() == 1 and not result.cost_updated


def test_a_different_cost_after_a_known_one_keeps_the_ledger(pending_job):
    job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("completed", cost=Decimal("1")), source="poll"
    )
    job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("completed", cost=Decimal("2")), source="poll"
    )
    assert UsageEntry.objects.get(job=pending_job).cost == Decimal("1")


def test_failure_records_the_provider_error_and_reason(pending_job):
    job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("failed", error="content policy"), source="poll"
    )
    job = VideoJob.objects.get(pk=pending_job.pk)
    assert (job.status, job.error, job.failure_reason) == (
        "failed",
        "content policy",
        "provider_failed",
    )


def test_unknown_provider_status_keeps_ours_and_records_the_raw_value(pending_job):
    result = job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("warming_up"), source="poll"
    )
    job = VideoJob.objects.get(pk=pending_job.pk)
    assert not result.changed and job.status == JobStatus.PENDING
    assert job.provider_status == "warming_up"


def test_claim_with_expect_from_succeeds_once():
    job = make_job()
    first = job_transition(
        job_id=job.pk, to_status="submitting", source="submit", expect_from=["queued"]
    )
    second = job_transition(
        job_id=job.pk, to_status="submitting", source="submit", expect_from=["queued"]
    )
    assert first.changed and not second.changed


def test_submitting_back_to_queued_only_as_an_explicit_retry():
    job = make_job(status=JobStatus.SUBMITTING)
    assert not job_transition(job_id=job.pk, to_status="queued", source="submit").changed
    assert job_transition(
        job_id=job.pk, to_status="queued", source="submit", allow_retry=True
    ).changed


def test_a_write_that_lost_its_compare_and_set_is_decided_again_on_the_new_row(
    pending_job, monkeypatch
):
    """Another writer changes the job between its read and the UPDATE (possible on SQLite,
    which has no row locks): the stale write matches no row, and the move is decided again
    on what the other writer left, so its failure stands and no cost is written."""
    from videogen.services.jobs import lifecycle

    reads = []

    def another_writer_first(job):
        if not reads:
            VideoJob.objects.filter(pk=job.pk).update(
                status=JobStatus.FAILED, version=F("version") + 1
            )
        reads.append(job.version)
        return UsageEntry.objects.filter(job_id=job.pk).first()

    monkeypatch.setattr(lifecycle, "ledger_entry_of", another_writer_first)

    result = job_apply_snapshot(
        job_id=pending_job.pk, snapshot=snapshot("completed", cost=0.5), source="webhook"
    )

    job = VideoJob.objects.get(pk=pending_job.pk)
    assert reads == [0]  # decided once on the stale row; the second time it is final
    assert not result.changed and result.to_status == JobStatus.FAILED
    assert (job.status, job.version) == (JobStatus.FAILED, 1)
    assert not JobEvent.objects.filter(job=job).exists()
    assert not UsageEntry.objects.filter(job=job).exists()


def test_signals_are_sent_on_commit(pending_job, django_capture_on_commit_callbacks):
    seen = []

    def on_changed(sender, job, from_status, to_status, source, **kw):
        seen.append(("changed", from_status, to_status, source))

    def on_completed(sender, job, **kw):
        seen.append(("completed",))

    signals.job_status_changed.connect(on_changed)
    signals.job_completed.connect(on_completed)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job_apply_snapshot(job_id=pending_job.pk, snapshot=snapshot("completed"), source="poll")
        assert seen == []
        for callback in callbacks:
            callback()
    finally:
        signals.job_status_changed.disconnect(on_changed)
        signals.job_completed.disconnect(on_completed)
    assert seen == [("changed", "pending", "completed", "poll"), ("completed",)]


def test_failed_signal_for_every_unsuccessful_end(django_capture_on_commit_callbacks):
    failed = []
    receiver = lambda sender, job, **kw: failed.append(job.status)  # noqa: E731
    signals.job_failed.connect(receiver)
    try:
        for status in ("failed", "cancelled", "expired"):
            job = make_job(status=JobStatus.PENDING)
            with django_capture_on_commit_callbacks(execute=True):
                job_transition(job_id=job.pk, to_status=status, source="poll")
    finally:
        signals.job_failed.disconnect(receiver)
    assert failed == ["failed", "cancelled", "expired"]


PROVIDER_STATUSES = [s.value for s in VideoStatus if s is not VideoStatus.UNKNOWN]
SOURCES = [EventSource.POLL, EventSource.WEBHOOK, EventSource.SWEEP]
observations = st.lists(
    st.tuples(
        st.sampled_from(PROVIDER_STATUSES),
        st.sampled_from(SOURCES),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=4)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(observations)
def test_any_interleaving_of_snapshots_ends_consistent(sequence):
    job = make_job(status=JobStatus.PENDING, provider_job_id=None)
    ranks = [JobStatus.rank(JobStatus.PENDING)]
    for status, source, cost in sequence:
        data = {"id": "x", "polling_url": "/p", "status": status}
        if status == "completed":
            data["usage"] = {"cost": cost, "is_byok": False}
        job_apply_snapshot(job_id=job.pk, snapshot=VideoJobSnapshot.from_json(data), source=source)
        ranks.append(JobStatus.rank(VideoJob.objects.get(pk=job.pk).status))
    job.refresh_from_db()
    assert ranks == sorted(ranks), "rank decreased"
    events = list(JobEvent.objects.filter(job=job).exclude(from_status=F("to_status")))
    assert [e.from_status for e in events][:1] in ([], ["pending"])
    for before, after in itertools.pairwise(events):
        assert before.to_status == after.from_status
    assert (events[-1].to_status if events else "pending") == job.status
    entries = UsageEntry.objects.filter(job=job).count()
    first_terminal = next(
        (s for s, _, _ in sequence if s in ("completed", "failed", "cancelled", "expired")), None
    )
    assert entries == (1 if first_terminal == "completed" else 0)
    if entries:
        costs = [c for s, _, c in sequence if s == "completed" and c is not None]
        assert UsageEntry.objects.get(job=job).cost == (costs[0] if costs else None)
