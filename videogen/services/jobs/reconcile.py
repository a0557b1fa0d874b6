"""The reconciler: keeps every job true to the provider.

One sweep:
1. re-enqueues queued jobs whose submission is due (retry backoff over, or task lost);
2. moves jobs stuck in ``submitting`` (the worker died around its POST) to ``unknown``, and
   flags for staff the ``unknown`` jobs no callback has bound in
   ``UNKNOWN_OUTCOME_ATTENTION_SECONDS`` (never re-POSTs them);
3. fails jobs past the deadline, closing them *locally*: they are still polled, slowly, for
   ``FOLLOW_UP_SECONDS``, so a completion the provider bills later is still recorded;
4. stops the follow-up of jobs given up on long ago, and flags completed jobs whose cost
   never arrived within ``LATE_COST_MAX_SECONDS``;
5. claims due jobs under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
   clusters never poll one job): in flight, completed without a cost, or closed locally
   and still followed up, in growing parts as the polls go; polls them concurrently on the
   client's event loop, applies the answers that change a job through the lifecycle in
   batches (``jobs_apply_snapshots``: one transaction per batch, the same rules as
   ``job_transition``) while the loop keeps polling, and reschedules the polled jobs with
   backoff and jitter in bulk writes, batch by batch as their answers come in.
One job's failure never stops the sweep.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import EventSource, JobStatus, UsageEntry, VideoJob
from videogen.provider.client import get_client
from videogen.provider.errors import ProviderError, ProviderNotFound
from videogen.provider.polling import Outcome, PollRun
from videogen.provider.types import VideoJobSnapshot
from videogen.services import bulk, queue
from videogen.services.jobs.lifecycle import (
    COST_NOT_REPORTED,
    job_apply_snapshot,
    job_transition,
    jobs_apply_snapshots,
    status_from_provider,
)
from videogen.services.jobs.outputs import outputs_requeue_due
from videogen.services.retry import backoff_seconds

logger = logging.getLogger(__name__)

STALE_SUBMITTING_MESSAGE = (
    "Submission outcome unknown: the worker stopped between sending the job to the provider "
    "and saving its answer. It is not sent again automatically (that could bill twice); the "
    "provider's callback completes it if it was created."
)
UNKNOWN_ATTENTION_MESSAGE = (
    "No callback from the provider within {seconds} s of this job's uncertain submission. "
    "If the provider never created it, 'Mark abandoned' closes it; 'Resubmit' sends it as a "
    "new job (which may be billed twice). Either way a late callback still completes it."
)
MISSING_COST_MESSAGE = (
    "The provider has not reported this job's cost within {seconds} s of its completion; "
    "polling stopped. Compare with the provider's record: videogen_audit_ledger "
    "--against-provider, then 'Poll now' to try again."
)


def unpriced_q() -> Q:
    """No cost in the job's ledger row yet (or no row at all)."""
    return ~Exists(UsageEntry.objects.filter(job=OuterRef("pk"), cost__isnull=False))


def pollable_q(*, now: datetime) -> Q:
    """Jobs the sweep keeps polling (``next_poll_at`` says when): in flight, completed but
    waiting for a cost, or closed by the site and still followed up."""
    late_cost_since = now - timedelta(seconds=videogen_settings.LATE_COST_MAX_SECONDS)
    follow_up_since = now - timedelta(seconds=videogen_settings.FOLLOW_UP_SECONDS)
    return (
        Q(status__in=JobStatus.in_flight())
        | Q(status=JobStatus.COMPLETED, finished_at__gte=late_cost_since) & unpriced_q()
        | Q(
            status__in=JobStatus.terminal(),
            locally_closed=True,
            finished_at__gte=follow_up_since,
        )
    )


def manually_pollable_q() -> Q:
    """Jobs staff or a member may poll on demand (refresh, *Poll now*), whatever their age."""
    return Q(provider_job_id__isnull=False) & (
        Q(status__in=JobStatus.in_flight())
        | Q(status=JobStatus.COMPLETED) & unpriced_q()
        | Q(status__in=JobStatus.terminal(), locally_closed=True)
    )


def job_is_manually_pollable(job: VideoJob) -> bool:
    """``manually_pollable_q`` for one loaded job (the API and pages decide with it)."""
    if not job.provider_job_id:
        return False
    return (
        job.status in JobStatus.in_flight()
        or (job.status == JobStatus.COMPLETED and job.cost is None)
        or (job.status in JobStatus.terminal() and job.locally_closed)
    )


@dataclass
class SweepReport:
    requeued: int = 0
    flagged_submitting: int = 0
    flagged_unknown: int = 0
    follow_ups_ended: int = 0
    flagged_missing_cost: int = 0
    deadline_failed: int = 0
    outputs_requeued: int = 0
    claimed: int = 0
    polled: int = 0
    transitions: int = 0
    not_found_failed: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}, polled {self.polled}, {self.transitions} transitions, "
            f"{self.errors} errors, {self.not_found_failed} failed as not found, "
            f"{self.requeued} re-enqueued, {self.flagged_submitting} stuck in submitting, "
            f"{self.flagged_unknown} unknown outcomes for staff, "
            f"{self.flagged_missing_cost} costs never reported, "
            f"{self.deadline_failed} past deadline ({self.seconds:.2f}s)"
        )


@dataclass(frozen=True)
class _PollResult:
    job: VideoJob
    snapshot: VideoJobSnapshot | None = None
    error: ProviderError | None = None


def jobs_requeue_due(*, now: datetime) -> int:
    """Re-enqueue queued jobs whose retry delay is over or whose task was lost."""
    due = list(
        VideoJob.objects.filter(status=JobStatus.QUEUED, next_poll_at__lte=now)
        .order_by("next_poll_at")
        .values_list("pk", flat=True)[: videogen_settings.RECONCILE_BATCH_SIZE]
    )
    later = now + timedelta(seconds=videogen_settings.QUEUED_STALE_SECONDS)
    # Conditional per row: of two racing sweeps only one moves a job's deadline (and so
    # enqueues it), and a retry delay the submitter has just set is never overwritten.
    won = [
        pk
        for pk in due
        if VideoJob.objects.filter(pk=pk, status=JobStatus.QUEUED, next_poll_at__lte=now).update(
            next_poll_at=later
        )
    ]
    for job_id in won:
        queue.enqueue_submit(job_id)
    return len(won)


def jobs_unknown_stale_submitting(*, now: datetime) -> int:
    """Jobs left in ``submitting`` (the worker died around its POST) become ``unknown``."""
    cutoff = now - timedelta(seconds=videogen_settings.SUBMITTING_STALE_SECONDS)
    moved = 0
    for job_id in VideoJob.objects.filter(
        status=JobStatus.SUBMITTING, updated_at__lt=cutoff
    ).values_list("pk", flat=True)[: videogen_settings.RECONCILE_BATCH_SIZE]:
        result = job_transition(
            job_id=job_id,
            to_status=JobStatus.UNKNOWN,
            source=EventSource.SWEEP,
            expect_from=[JobStatus.SUBMITTING],
            fields={
                "failure_reason": "worker_stopped",
                "last_error": STALE_SUBMITTING_MESSAGE,
                # The claim's time, just before the POST went out.
                "submitted_at": F("updated_at"),
            },
            message="worker stopped around its submission: outcome unknown",
        )
        moved += result.changed
    return moved


def jobs_flag_unknown_outcomes(*, now: datetime) -> int:
    """Unknown outcomes no callback has bound in time go to staff (``needs_attention``)."""
    message = UNKNOWN_ATTENTION_MESSAGE.format(
        seconds=videogen_settings.UNKNOWN_OUTCOME_ATTENTION_SECONDS
    )
    cutoff = now - timedelta(seconds=videogen_settings.UNKNOWN_OUTCOME_ATTENTION_SECONDS)
    return VideoJob.objects.filter(
        status=JobStatus.UNKNOWN, needs_attention=False, submitted_at__lte=cutoff
    ).update(needs_attention=True, last_error=message)


def jobs_end_follow_ups(*, now: datetime) -> tuple[int, int]:
    """Stop polling jobs closed locally long ago, and flag completed jobs whose cost never
    came (``(follow-ups ended, costs flagged)``)."""
    follow_up_since = now - timedelta(seconds=videogen_settings.FOLLOW_UP_SECONDS)
    ended = VideoJob.objects.filter(
        status__in=JobStatus.terminal(),
        locally_closed=True,
        next_poll_at__isnull=False,
        finished_at__lt=follow_up_since,
    ).update(next_poll_at=None, lease_until=None, lease_token=None)
    late_cost_since = now - timedelta(seconds=videogen_settings.LATE_COST_MAX_SECONDS)
    flagged = VideoJob.objects.filter(
        unpriced_q(),
        status=JobStatus.COMPLETED,
        locally_closed=False,
        next_poll_at__isnull=False,
        finished_at__lt=late_cost_since,
    ).update(
        next_poll_at=None,
        lease_until=None,
        lease_token=None,
        needs_attention=True,
        failure_reason=COST_NOT_REPORTED,
        last_error=MISSING_COST_MESSAGE.format(seconds=videogen_settings.LATE_COST_MAX_SECONDS),
    )
    return ended, flagged


def _follow_up_at(now: datetime) -> datetime:
    seconds = float(videogen_settings.FOLLOW_UP_POLL_SECONDS) * random.uniform(0.9, 1.1)
    return now + timedelta(seconds=seconds)


def jobs_fail_past_deadline(*, now: datetime) -> int:
    cutoff = now - timedelta(seconds=videogen_settings.JOB_DEADLINE_SECONDS)
    failed = 0
    for job_id in VideoJob.objects.filter(
        status__in=JobStatus.in_flight(), submitted_at__lt=cutoff
    ).values_list("pk", flat=True)[: videogen_settings.RECONCILE_BATCH_SIZE]:
        result = job_transition(
            job_id=job_id,
            to_status=JobStatus.FAILED,
            source=EventSource.SWEEP,
            expect_from=JobStatus.in_flight(),
            fields={
                "failure_reason": "deadline_exceeded",
                "error": "Not finished within "
                f"{videogen_settings.JOB_DEADLINE_SECONDS} seconds of submission.",
                # Given up here, not at the provider: keep asking it, slowly.
                "locally_closed": True,
                "next_poll_at": _follow_up_at(now),
            },
            message="past the deadline",
        )
        failed += result.changed
    return failed


def jobs_claim_due(*, now: datetime, limit: int, token: uuid.UUID | None = None) -> list[VideoJob]:
    """Lease up to ``limit`` due in-flight jobs to this sweep (``token``, new if not given)
    and return them.

    On PostgreSQL rows another sweep is claiming are skipped, not waited for; everywhere,
    the lease condition in the UPDATE makes a job belong to one sweep at a time.
    """
    token = token or uuid.uuid4()
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = (
        VideoJob.objects.filter(
            status__in=JobStatus.pollable(), provider_job_id__isnull=False, next_poll_at__lte=now
        )
        .filter(pollable_q(now=now))
        .filter(lease_free)
        .order_by("next_poll_at")
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        VideoJob.objects.filter(pk__in=ids).filter(lease_free).update(
            lease_until=_lease_end(), lease_token=token
        )
    # By primary key (the token alone has no index: a scan of every job at each sweep).
    return list(_polled_jobs().filter(pk__in=ids, lease_token=token))


def _lease_end() -> datetime:
    # From the claim itself, not the sweep's start: a part claimed late in a long sweep
    # still has its whole lease to be polled in.
    return timezone.now() + timedelta(seconds=videogen_settings.POLL_LEASE_SECONDS)


class _Claims:
    """A sweep's claim, taken in parts (one lease token) so that its first polls start at
    once: leasing and loading 10,000 jobs took about a second before the first poll, and
    the loop polled nothing meanwhile. Each part doubles what was claimed before it, so a
    sweep makes a handful of claims, each one done long before the polls of the last run
    out (a claim costs a tenth of the polls' time per job). No part is claimed once
    ``deadline`` (``time.monotonic()``) has passed: the jobs claimed are polled, the rest
    waits for the next sweep."""

    def __init__(self, *, now: datetime, limit: int, deadline: float | None = None) -> None:
        self.now = now
        self.left = limit
        self.deadline = deadline
        self.claimed = 0
        self.token = uuid.uuid4()

    @property
    def done(self) -> bool:
        return self.left == 0

    def next(self, size: int) -> list[VideoJob]:
        if self.claimed and self.deadline is not None and time.monotonic() >= self.deadline:
            self.left = 0
        size = min(size, self.left)
        if not size:
            return []
        jobs = jobs_claim_due(now=self.now, limit=size, token=self.token)
        self.claimed += len(jobs)
        # Fewer than asked: nothing more is due (or another sweep has it).
        self.left = self.left - len(jobs) if len(jobs) == size else 0
        return jobs


def _polled_jobs():
    return VideoJob.objects.select_related("usage_entry").only(*_POLLED_FIELDS)


# What a sweep loads of each claimed job: enough to skip a no-op answer and reschedule.
_POLLED_FIELDS = (
    "pk",
    "public_id",
    "status",
    "provider_job_id",
    "poll_attempts",
    "not_found_count",
    "unsigned_urls",
    "generation_id",
    "usage",
    "usage_entry__cost",
    "usage_entry__is_byok",
    "locally_closed",
    "lease_token",
)


def _poll(job: VideoJob) -> _PollResult:
    try:
        return _PollResult(job=job, snapshot=get_client().get_video(job.provider_job_id))
    except ProviderError as err:
        return _PollResult(job=job, error=err)


def _unchanged(job: VideoJob, snapshot: VideoJobSnapshot) -> bool:
    """True when applying the snapshot would write nothing but the next poll time."""
    if job.locally_closed and job.status in JobStatus.terminal():
        # Given up here: only the provider's final word matters, the rest is its progress.
        return not snapshot.is_terminal
    usage = snapshot.usage
    no_news_on_cost = usage is None or (
        usage.cost is None and job.cost is None and job.usage is not None
    )
    return (
        status_from_provider(snapshot.status) in (job.status, None)
        and no_news_on_cost
        and (not snapshot.unsigned_urls or list(snapshot.unsigned_urls) == job.unsigned_urls)
        and (not snapshot.generation_id or snapshot.generation_id == job.generation_id)
    )


def reconcile_sweep(
    *,
    limit: int | None = None,
    concurrency: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
) -> SweepReport:
    """One full sweep (see the module docstring). ``progress(done, total)`` after each poll.
    Once ``deadline`` (a ``time.monotonic()`` value) has passed, the sweep claims no more
    parts: it polls what it has claimed and ends."""
    started = time.monotonic()
    now = timezone.now()
    report = SweepReport()
    report.requeued = jobs_requeue_due(now=now)
    report.flagged_submitting = jobs_unknown_stale_submitting(now=now)
    report.flagged_unknown = jobs_flag_unknown_outcomes(now=now)
    report.deadline_failed = jobs_fail_past_deadline(now=now)
    report.follow_ups_ended, report.flagged_missing_cost = jobs_end_follow_ups(now=now)
    report.outputs_requeued = outputs_requeue_due(now=now)

    concurrency = concurrency or videogen_settings.POLL_CONCURRENCY
    claims = _Claims(
        now=now, limit=limit or videogen_settings.RECONCILE_BATCH_SIZE, deadline=deadline
    )
    jobs = claims.next(2 * concurrency)
    if jobs:
        _poll_and_apply(jobs, report, concurrency, progress, claims)
    report.claimed = claims.claimed
    report.seconds = time.monotonic() - started
    return report


def _poll_and_apply(
    jobs: list[VideoJob],
    report: SweepReport,
    concurrency: int,
    progress: Callable[[int, int], None] | None,
    claims: _Claims | None = None,
) -> None:
    """Poll ``jobs`` (and the further parts of ``claims``), apply and reschedule them."""
    retry_after: dict[int, float | None] = {}
    news: list[_PollResult] = []  # answers that change their job, applied in batches
    settled: list[VideoJob] = []  # polled (and applied): their next poll can be written
    batch_size = videogen_settings.RECONCILE_APPLY_BATCH_SIZE
    # The polling loop only speaks HTTP; every database write happens here, in this thread,
    # while the loop keeps polling: a batch is applied as soon as it is full, and the jobs
    # settled so far are rescheduled in the same rhythm, so that little is left to write
    # once the last answer is in (the sweep's time is the polls', not the polls' plus
    # the writes').
    with contextlib.closing(_polled(jobs, concurrency, claims)) as answers:
        for done, result in enumerate(answers, start=1):
            if _is_news(result, report):
                news.append(result)
                if len(news) >= batch_size:
                    settled.extend(_apply_news(news, report))
                    news = []
            else:
                if result.error is not None:
                    retry_after[result.job.pk] = result.error.retry_after
                settled.append(result.job)
            total = claims.claimed if claims else len(jobs)
            if len(settled) >= batch_size and done < total:
                _reschedule(settled, retry_after)
                settled = []
            if progress:
                progress(done, total)
    settled.extend(_apply_news(news, report))
    # Every polled job may need a next poll (a completion without its cost, a job the site
    # gave up on): the reschedule writes only those that still match ``pollable_q``.
    _reschedule(settled, retry_after)


# How long the applying thread lets answers gather before taking them, when it has nothing
# else to do: woken for every single answer, it took the GIL from the loop's thread about
# as often as there were polls. Adds at most this to a sweep's end.
_GATHER_SECONDS = 0.005
# How often a thread waiting for answers checks that the polls are still running.
_CHECK_SECONDS = 1.0


def _polled(
    jobs: list[VideoJob], concurrency: int, claims: _Claims | None = None
) -> Iterator[_PollResult]:
    """Poll ``jobs``, then the further parts of ``claims``, and yield the answers in the
    calling thread as they come.

    One job (the API's refresh, *Poll now*) is polled here, on the blocking client: there is
    nothing to overlap. More go to the client's event loop (``poll_videos``), at most
    ``concurrency`` in flight; the caller takes every answer that is in at once, then lets a
    few more gather. The next part is claimed when half of what was claimed is answered.
    Leaving early (an exception in the caller) cancels the polls not yet answered.
    """
    more_to_come = claims is not None and not claims.done
    if len(jobs) == 1 and not more_to_come:
        yield _poll(jobs[0])
        return
    answers: SimpleQueue[tuple[VideoJob, Outcome]] = SimpleQueue()
    run = get_client().poll_videos(
        _poll_items(jobs),
        concurrency=concurrency,
        answer=lambda job, outcome: answers.put((job, outcome)),
        more_to_come=more_to_come,
    )
    fed, answered = len(jobs), 0
    try:
        while answered < fed:
            taken = [_next_answer(answers, run)]
            with contextlib.suppress(Empty):
                while True:
                    taken.append(answers.get_nowait())
            for job, outcome in taken:
                answered += 1
                yield _result_of(job, outcome)
            if more_to_come and fed - answered <= fed // 2:
                part = claims.next(fed)
                run.add(_poll_items(part))
                fed += len(part)
                if claims.done:
                    run.close()
                    more_to_come = False
            if answered < fed:
                time.sleep(_GATHER_SECONDS)
    finally:
        run.cancel()


def _poll_items(jobs: list[VideoJob]) -> list[tuple[VideoJob, str]]:
    return [(job, job.provider_job_id) for job in jobs]


def _next_answer(answers: SimpleQueue, run: PollRun) -> tuple[VideoJob, Outcome]:
    while True:
        try:
            return answers.get(timeout=_CHECK_SECONDS)
        except Empty:
            failure = run.failure()
            if failure is not None:  # the run itself broke: no answer is coming
                raise failure from None


def _result_of(job: VideoJob, outcome: Outcome) -> _PollResult:
    if isinstance(outcome, VideoJobSnapshot):
        return _PollResult(job=job, snapshot=outcome)
    if isinstance(outcome, ProviderError):
        return _PollResult(job=job, error=outcome)
    raise outcome  # a bug, raised in the sweep's thread as if it had polled itself


def _note_error(report: SweepReport, job: VideoJob, err: Exception) -> None:
    if len(report.error_samples) < 5:
        report.error_samples.append(f"{job.public_id}: {err}")


def _note_apply_error(report: SweepReport, job: VideoJob, err: Exception) -> None:
    logger.error("videogen: applying poll of job %s failed", job.pk, exc_info=err)
    report.errors += 1
    _note_error(report, job, err)
    job.last_error = f"reconcile error: {err}"[:5000]


def _is_news(result: _PollResult, report: SweepReport) -> bool:
    """Count one poll and apply it now if it is an error. ``True`` when the answer changes
    its job (applied later, in a batch); ``False`` when only its next poll is left to write."""
    job = result.job
    report.polled += 1
    job.poll_attempts += 1
    if result.error is not None:
        try:
            _apply_poll_error(job, result.error, report)
        except Exception as err:  # one job's failure never stops the sweep
            _note_apply_error(report, job, err)
        return False
    job.not_found_count = 0
    job.last_error = ""
    return not _unchanged(job, result.snapshot)


def _apply_news(news: list[_PollResult], report: SweepReport) -> list[VideoJob]:
    """Apply answers that change their jobs: the batch in one transaction, then one by one
    the jobs it left (see ``jobs_apply_snapshots``). The output downloads their completions
    enqueue reach the broker together, once the batch has committed.

    Returns the jobs that may still need a next poll: not those the lifecycle has just ended
    for good (terminal, not given up locally, no next poll: a completion still waiting for
    its cost has one). The reschedule would lock and check them only to skip them."""
    if not news:
        return []
    by_pk = {result.job.pk: result for result in news}
    ended: set[int] = set()
    with queue.enqueue_batch():
        batch = jobs_apply_snapshots(
            [(result.job.pk, result.snapshot) for result in news], source=EventSource.POLL
        )
        transitions = list(batch.transitions.values())
        for job_id in batch.left:
            job = by_pk[job_id].job
            try:
                transitions.append(
                    job_apply_snapshot(
                        job_id=job_id, snapshot=by_pk[job_id].snapshot, source=EventSource.POLL
                    )
                )
            except Exception as err:  # one job's failure never stops the sweep
                _note_apply_error(report, job, err)
    for transition in transitions:
        report.transitions += transition.changed
        written = transition.job
        _follow(by_pk[written.pk].job, written)
        if _ended_for_good(written):
            ended.add(written.pk)
    return [result.job for result in news if result.job.pk not in ended]


def _ended_for_good(written: VideoJob) -> bool:
    """The lifecycle has just written the job's end, and no further poll (see ``pollable_q``:
    nothing makes such a job pollable again)."""
    return (
        written.status in JobStatus.terminal()
        and not written.locally_closed
        and written.next_poll_at is None
    )


def _follow(job: VideoJob, written: VideoJob) -> None:
    """Carry what a transition wrote into the sweep's copy, which the reschedule reads."""
    job.status = written.status
    job.locally_closed = written.locally_closed


def _apply_poll_error(job: VideoJob, err: ProviderError, report: SweepReport) -> None:
    report.errors += 1
    _note_error(report, job, err)
    job.last_error = str(err)[:5000]
    if isinstance(err, ProviderNotFound):
        job.not_found_count += 1
        if job.not_found_count >= videogen_settings.NOT_FOUND_LIMIT:
            result = job_transition(
                job_id=job.pk,
                to_status=JobStatus.FAILED,
                source=EventSource.SWEEP,
                expect_from=JobStatus.in_flight(),
                fields={
                    "failure_reason": "not_found_at_provider",
                    "error": f"Not found at provider ({job.not_found_count} polls answered 404).",
                    "not_found_count": job.not_found_count,
                    # Given up here, not at the provider: keep asking it, slowly.
                    "locally_closed": True,
                    "next_poll_at": _follow_up_at(timezone.now()),
                },
                message="not found at provider",
            )
            report.not_found_failed += result.changed
            if result.changed:
                _follow(job, result.job)


_RESCHEDULE_FIELDS = (
    "next_poll_at",
    "poll_attempts",
    "not_found_count",
    "last_error",
    "lease_until",
    "lease_token",
)
# Rows per UPDATE statement of the reschedule.
_RESCHEDULE_CHUNK = 1000


def _reschedule(jobs: list[VideoJob], retry_after: dict[int, float | None]) -> None:
    """One bulk write: next poll time with backoff and jitter, counters, lease released."""
    if not jobs:
        return
    token = jobs[0].lease_token
    now = timezone.now()
    for job in jobs:
        if job.locally_closed:
            job.next_poll_at = _follow_up_at(now)
        else:
            delay = backoff_seconds(job.poll_attempts - 1, retry_after=retry_after.get(job.pk))
            job.next_poll_at = now + timedelta(seconds=delay)
        job.lease_until = None
        job.lease_token = None
    # Only rows still leased by this sweep and still waiting for the provider: a webhook
    # may have finished the job meanwhile (then it needs no next poll).
    still_pollable = pollable_q(now=now)
    if connection.vendor == "postgresql":
        _reschedule_postgresql(jobs, token, still_pollable)
        return
    VideoJob.objects.filter(lease_token=token).filter(still_pollable).bulk_update(
        jobs, _RESCHEDULE_FIELDS, batch_size=500
    )


def _reschedule_postgresql(jobs: list[VideoJob], token: uuid.UUID | None, still_pollable: Q):
    """The ``bulk_update`` above in two plain statements per chunk: same rows, same values.

    ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` expression per row and field, about
    1 ms of Python per job (10 s of a 10,000-job sweep, holding the GIL after the polls).
    Here the rows still leased by this sweep and still pollable are locked first (the same
    condition, so the same rows), then written from one JSON parameter
    (``UPDATE … FROM jsonb_to_recordset``, see ``services.bulk``).
    """
    by_pk = {job.pk: job for job in jobs}
    with transaction.atomic():
        for start in range(0, len(jobs), _RESCHEDULE_CHUNK):
            chunk = [job.pk for job in jobs[start : start + _RESCHEDULE_CHUNK]]
            locked = list(
                VideoJob.objects.select_for_update()
                .filter(pk__in=chunk, lease_token=token)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            # Decided after the lock, in a statement of its own: a row lock waited for is
            # rechecked against the row's new version, but a subquery (is the cost in the
            # ledger yet?) would still see the snapshot from before the wait, and miss a
            # webhook that completed and priced the job meanwhile.
            # The condition is selected, not filtered on: in a WHERE clause its OR of
            # statuses let PostgreSQL pick a bitmap of every in-flight job's status entry
            # over the primary key (seconds per batch at 10,000 jobs in flight).
            pollable = (
                VideoJob.objects.filter(pk__in=locked)
                .annotate(still_pollable=ExpressionWrapper(still_pollable, BooleanField()))
                .order_by("pk")
                .values_list("pk", "still_pollable")
            )
            leased = [by_pk[pk] for pk, pollable_now in pollable if pollable_now]
            if not leased:
                continue
            bulk.update(
                VideoJob,
                [
                    (job.pk, None, {name: getattr(job, name) for name in _RESCHEDULE_FIELDS})
                    for job in leased
                ],
                _RESCHEDULE_FIELDS,
            )


def reconcile_window(*, seconds: float, idle_seconds: float) -> list[SweepReport]:
    """Sweep repeatedly for ``seconds`` (what the scheduled task runs), pausing when idle.
    A sweep claims no more parts once the window is over, so the task ends about a round of
    polls after it, however large ``RECONCILE_BATCH_SIZE`` and however slow the provider."""
    deadline = time.monotonic() + seconds
    reports = [reconcile_sweep(deadline=deadline)]
    while time.monotonic() + idle_seconds < deadline:
        if reports[-1].claimed == 0:
            time.sleep(idle_seconds)
        reports.append(reconcile_sweep(deadline=deadline))
    return reports


def job_poll_now(*, job_id: int) -> SweepReport:
    """Poll one job right away (the API's refresh, the admin's *Poll now*, ``videogen_submit
    --wait``), leasing it like a sweep would so it is not polled twice at once. Polls a job
    in flight, a completed job still missing its cost, or one the site gave up on."""
    report = SweepReport()
    now = timezone.now()
    token = uuid.uuid4()
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    claimed = (
        VideoJob.objects.filter(pk=job_id)
        .filter(manually_pollable_q())
        .filter(lease_free)
        .update(lease_until=_lease_end(), lease_token=token)
    )
    if claimed:
        job = _polled_jobs().get(pk=job_id)
        report.claimed = 1
        _poll_and_apply([job], report, concurrency=1, progress=None)
        # The reschedule writes only jobs the sweep still polls; a job polled on demand
        # outside that set (a cost flagged as missing) is let go here, so the next Poll now
        # is not refused for the lease's length.
        VideoJob.objects.filter(pk=job_id, lease_token=token).update(
            lease_until=None, lease_token=None
        )
    return report
