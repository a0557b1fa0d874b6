"""Job state: a lock-protected dict of jobs whose status is computed lazily from the clock.

No thread advances a job. A job knows when it was created and how long it stays ``pending``
and ``in_progress``; every read derives its status from ``clock()``. That keeps 10,000 jobs as
cheap as one, and makes the timeline exact. Tests can override the timeline per job with
``set_status`` or make the provider forget a job with ``forget``.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

PENDING = "pending"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
STATUSES = (PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, EXPIRED)
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED})

# Prompt markers that choose how a job ends (see the package docstring).
FAIL_MARKER = "[sim:fail]"
CANCEL_MARKER = "[sim:cancel]"
EXPIRE_MARKER = "[sim:expire]"
LATE_COST_MARKER = "[sim:late-cost]"
CONTENT_ERROR_MARKER = "[sim:content-error]"
NO_CREDITS_MARKER = "[sim:no-credits]"

_OUTCOME_MARKERS = ((FAIL_MARKER, FAILED), (CANCEL_MARKER, CANCELLED), (EXPIRE_MARKER, EXPIRED))
_DEFAULT_ERRORS = {
    FAILED: "Simulated provider failure: the model could not generate this video",
    CANCELLED: "Simulated cancellation: the job was cancelled by the provider",
    EXPIRED: "Simulated expiry: the job expired before it could be processed",
}

# (job_id, monotonic time at which the job is or becomes terminal)
TerminalListener = Callable[[str, float], None]


def outcome_for_prompt(prompt: str) -> str:
    """The terminal status a prompt's marker asks for (``completed`` without a marker)."""
    for marker, status in _OUTCOME_MARKERS:
        if marker in prompt:
            return status
    return COMPLETED


@dataclass(slots=True)
class Job:
    """Everything the simulator remembers about one submission (mutated under the lock)."""

    id: str
    model: str
    generation_id: str
    created_monotonic: float
    pending_seconds: float
    processing_seconds: float
    outcome: str
    cost: Decimal
    callback_url: str | None = None
    outputs: int = 1
    late_cost_polls: int = 0
    content_error: bool = False
    forced_status: str | None = None
    error: str | None = None

    @property
    def terminal_at(self) -> float:
        return (self.created_monotonic + self.pending_seconds) + self.processing_seconds

    def status_at(self, now: float) -> str:
        if self.forced_status is not None:
            return self.forced_status
        # Same arithmetic as terminal_at, so a webhook due at terminal_at sees the end state.
        if now < self.created_monotonic + self.pending_seconds:
            return PENDING
        if now < self.terminal_at:
            return IN_PROGRESS
        return self.outcome


@dataclass(frozen=True, slots=True)
class JobView:
    """An immutable observation of a job, taken under the lock."""

    id: str
    model: str
    status: str
    generation_id: str
    error: str | None
    cost: Decimal | None
    outputs: int
    callback_url: str | None
    content_error: bool

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class JobStore:
    """All jobs of one simulator. ``clock`` is injectable so unit tests can move time."""

    clock: Callable[[], float] = time.monotonic
    _jobs: dict[str, Job] = field(default_factory=dict, init=False, repr=False)
    # generation id -> job id (GET /generation).
    _generations: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _listeners: list[TerminalListener] = field(default_factory=list, init=False, repr=False)
    _counter: itertools.count = field(default_factory=itertools.count, init=False, repr=False)

    def add_terminal_listener(self, listener: TerminalListener) -> None:
        """Call ``listener(job_id, when)`` for jobs with a callback_url that end (webhooks)."""
        self._listeners.append(listener)

    def create(
        self,
        *,
        model: str,
        prompt: str,
        cost: Decimal,
        pending_seconds: float,
        processing_seconds: float,
        callback_url: str | None = None,
        outputs: int = 1,
        late_cost_polls: int = 1,
    ) -> Job:
        """Store a new job; its outcome and quirks come from the prompt's markers."""
        outcome = outcome_for_prompt(prompt)
        # Short random ids like the provider's; the counter only breaks ties in generation_id.
        job = Job(
            id=f"job-{secrets.token_hex(12)}",
            model=model,
            generation_id=f"gen-{secrets.token_hex(8)}{next(self._counter):x}",
            created_monotonic=self.clock(),
            pending_seconds=max(0.0, pending_seconds),
            processing_seconds=max(0.0, processing_seconds),
            outcome=outcome,
            cost=cost,
            callback_url=callback_url,
            outputs=max(1, outputs),
            late_cost_polls=late_cost_polls if LATE_COST_MARKER in prompt else 0,
            content_error=CONTENT_ERROR_MARKER in prompt,
            error=_DEFAULT_ERRORS.get(outcome),
        )
        with self._lock:
            self._jobs[job.id] = job
            self._generations[job.generation_id] = job.id
        if callback_url:
            self._notify(job.id, job.terminal_at)
        return job

    def view(self, job_id: str, *, count_poll: bool = True) -> JobView | None:
        """Observe a job now; None when unknown. A counted poll spends a late-cost poll."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            status = job.status_at(self.clock())
            cost: Decimal | None = job.cost
            if status == COMPLETED and job.late_cost_polls > 0:
                cost = None
                if count_poll:
                    job.late_cost_polls -= 1
            return JobView(
                id=job.id,
                model=job.model,
                status=status,
                generation_id=job.generation_id,
                error=job.error if status in (FAILED, CANCELLED, EXPIRED) else None,
                cost=cost,
                outputs=job.outputs,
                callback_url=job.callback_url,
                content_error=job.content_error,
            )

    def view_generation(self, generation_id: str) -> JobView | None:
        """The job behind a generation id, with its full cost (what the provider billed,
        whatever the video API says yet); None when unknown."""
        with self._lock:
            job_id = self._generations.get(generation_id)
        view = self.view(job_id, count_poll=False) if job_id else None
        if view is None:
            return None
        with self._lock:
            job = self._jobs.get(view.id)
            billed = job.cost if job is not None and view.status == COMPLETED else Decimal(0)
        return dataclasses.replace(view, cost=billed)

    def status(self, job_id: str) -> str | None:
        view = self.view(job_id, count_poll=False)
        return view.status if view else None

    def set_status(
        self,
        job_id: str,
        status: str,
        *,
        error: str | None = None,
        cost: Decimal | float | str | None = None,
    ) -> None:
        """Pin a job to ``status`` from now on (a terminal one fires its webhook).

        Raises ``KeyError`` for an unknown job, ``ValueError`` for an unknown status and
        ``ArithmeticError`` for a cost that is not a number.
        """
        status = str(getattr(status, "value", status))
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        new_cost = Decimal(str(cost)) if cost is not None else None
        with self._lock:
            job = self._jobs[job_id]
            job.forced_status = status
            if status in _DEFAULT_ERRORS:
                job.error = error or _DEFAULT_ERRORS[status]
            elif error is not None:
                job.error = error
            if new_cost is not None:
                job.cost = new_cost
            callback = job.callback_url
        if callback and status in TERMINAL_STATUSES:
            self._notify(job_id, self.clock())

    def forget(self, job_id: str) -> bool:
        """Drop a job so every endpoint answers 404 for it; True when it existed."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is not None:
                self._generations.pop(job.generation_id, None)
            return job is not None

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._generations.clear()

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def counts_by_status(self) -> dict[str, int]:
        with self._lock:
            now = self.clock()
            return dict(Counter(job.status_at(now) for job in self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def _notify(self, job_id: str, when: float) -> None:
        for listener in self._listeners:
            listener(job_id, when)
