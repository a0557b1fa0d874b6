"""Signed webhook delivery: one dispatcher thread working through a heap of due events.

A job with a ``callback_url`` registers a check at the moment its timeline ends (or at once
when a test pins it to a terminal status). When the check finds the job terminal, the event
is built once (same body, same ``created_at`` for every retry), then POSTed with a fresh
signature per attempt, and retried with exponential backoff on a non-2xx answer or a
connection error until ``webhook_max_attempts``. Every attempt is recorded for tests.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ..provider.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signature_header
from .config import SimulatorConfig
from .payloads import dumps, webhook_event
from .state import JobStore

logger = logging.getLogger(__name__)

USER_AGENT = "videogen-simulator-webhooks/1"


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST to a callback URL, as the receiver saw it and as it answered."""

    job_id: str
    status: str
    url: str
    attempt: int
    sent_at: float
    headers: dict[str, str]
    body: bytes
    response_status: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


@dataclass
class _Delivery:
    job_id: str
    status: str
    url: str
    body: bytes
    attempt: int = 1


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    job_id: str = field(compare=False)
    delivery: _Delivery | None = field(compare=False, default=None)


class WebhookDispatcher:
    """Owns the heap, the thread and the HTTP session; ``origin`` gives unsigned_urls' base."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: JobStore,
        origin: Callable[[], str],
    ) -> None:
        self.config = config
        self.state = state
        self._origin = origin
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._notified: set[tuple[str, str]] = set()
        self._attempts: list[WebhookAttempt] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._in_flight = 0
        state.add_terminal_listener(self.schedule_check)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="videogen-simulator-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread; events still queued are dropped."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(
                timeout if timeout is not None else self.config.webhook_timeout_seconds + 1
            )
            self._thread = None

    # --- scheduling -----------------------------------------------------------------------
    def schedule_check(self, job_id: str, when: float) -> None:
        """Terminal listener of the job store: look at ``job_id`` at monotonic ``when``."""
        self._push(_Item(when, next(self._seq), job_id))

    def _push(self, item: _Item) -> None:
        with self._cond:
            if self._stopping:
                return
            heapq.heappush(self._heap, item)
            self._cond.notify_all()

    # --- inspection (tests, stats) ---------------------------------------------------------
    @property
    def attempts(self) -> list[WebhookAttempt]:
        with self._cond:
            return list(self._attempts)

    def attempts_for(self, job_id: str) -> list[WebhookAttempt]:
        return [a for a in self.attempts if a.job_id == job_id]

    @property
    def pending(self) -> int:
        """Events queued or being sent."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_for(
        self, predicate: Callable[[list[WebhookAttempt]], bool], timeout: float = 5.0
    ) -> bool:
        """Block until ``predicate(attempts)`` is true (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._attempts)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def stats(self) -> dict[str, int]:
        with self._cond:
            attempts = len(self._attempts)
            delivered = sum(1 for a in self._attempts if a.delivered)
            return {
                "attempts": attempts,
                "delivered": delivered,
                "failed_attempts": attempts - delivered,
                "pending": len(self._heap) + self._in_flight,
            }

    def clear(self) -> None:
        with self._cond:
            self._attempts.clear()

    # --- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False  # callbacks are local or explicit: no proxies from the env
        try:
            while True:
                with self._cond:
                    while not self._stopping:
                        now = time.monotonic()
                        if self._heap and self._heap[0].due <= now:
                            break
                        self._cond.wait(self._heap[0].due - now if self._heap else None)
                    if self._stopping:
                        return
                    item = heapq.heappop(self._heap)
                    self._in_flight += 1
                try:
                    if item.delivery is None:
                        self._check(item.job_id)
                    else:
                        self._deliver(session, item.delivery)
                except Exception:  # keep the dispatcher alive whatever one event does
                    logger.exception("videogen simulator: webhook event for %s failed", item.job_id)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        finally:
            session.close()

    def _check(self, job_id: str) -> None:
        view = self.state.view(job_id, count_poll=False)
        if view is None or not view.is_terminal or not view.callback_url:
            return
        key = (job_id, view.status)
        with self._cond:
            if key in self._notified:
                return
            self._notified.add(key)
        body = dumps(webhook_event(view, self._origin()))
        delivery = _Delivery(job_id, view.status, view.callback_url, body)
        self._deliver_now(delivery)

    def _deliver_now(self, delivery: _Delivery) -> None:
        self._push(_Item(time.monotonic(), next(self._seq), delivery.job_id, delivery))

    def _deliver(self, session: requests.Session, delivery: _Delivery) -> None:
        cfg = self.config
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: f"{delivery.job_id}-{delivery.status}",
        }
        if cfg.webhook_secret:
            headers[SIGNATURE_HEADER] = signature_header(cfg.webhook_secret, delivery.body)
        status: int | None = None
        error: str | None = None
        try:
            response = session.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                timeout=cfg.webhook_timeout_seconds,
                allow_redirects=False,
            )
            status = response.status_code
            response.close()
        except requests.RequestException as err:
            error = f"{type(err).__name__}: {err}"
        attempt = WebhookAttempt(
            job_id=delivery.job_id,
            status=delivery.status,
            url=delivery.url,
            attempt=delivery.attempt,
            sent_at=time.time(),
            headers=headers,
            body=delivery.body,
            response_status=status,
            error=error,
        )
        with self._cond:
            self._attempts.append(attempt)
            self._cond.notify_all()
        if attempt.delivered or delivery.attempt >= cfg.webhook_max_attempts:
            if not attempt.delivered:
                logger.warning(
                    "videogen simulator: gave up on webhook %s-%s after %d attempts",
                    delivery.job_id,
                    delivery.status,
                    delivery.attempt,
                )
            return
        delay = min(
            cfg.webhook_backoff_seconds * 2 ** (delivery.attempt - 1),
            cfg.webhook_backoff_max_seconds,
        )
        delivery.attempt += 1
        self._push(_Item(time.monotonic() + delay, next(self._seq), delivery.job_id, delivery))
