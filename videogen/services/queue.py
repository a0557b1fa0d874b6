"""Enqueue videogen's tasks with django-q2, by dotted path (services never import tasks).

Every enqueue goes through one broker per process (``broker``): django-q2's ``async_task``
otherwise builds a broker per call, which on Redis is a new client, a new connection pool
and a new TCP connection for every task (issue #15).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.dispatch import receiver
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from videogen.conf import videogen_settings
from videogen.services import bulk

logger = logging.getLogger(__name__)

_broker_lock = threading.Lock()
_broker: tuple[tuple, Broker] | None = None  # (what it was built from, the broker)


def _broker_key() -> tuple:
    # What django-q2's get_broker builds from, read when it is called: a change (a test's
    # queue name, another Redis) means another broker. The pid: a forked child makes its own
    # (a client's sockets are not to be shared across a fork).
    return (
        os.getpid(),
        Conf.CLUSTER_NAME,
        Conf.BROKER_CLASS,
        Conf.ORM,
        repr(Conf.REDIS),
        Conf.DJANGO_REDIS,
        Conf.IRON_MQ is not None,
        repr(Conf.SQS),
        repr(Conf.MONGO),
    )


def broker() -> Broker:
    """This process's django-q2 broker, built once and shared by every thread (a Redis
    client is thread-safe: it takes a connection from its pool for each command; the ORM
    broker makes a queryset per call, on the calling thread's connection)."""
    global _broker
    key = _broker_key()
    current = _broker
    if current is not None and current[0] == key:
        return current[1]
    with _broker_lock:
        if _broker is None or _broker[0] != key:
            _broker = (key, get_broker())
        return _broker[1]


def broker_reset() -> None:
    """Forget the shared broker: the next enqueue builds a new one."""
    global _broker
    with _broker_lock:
        _broker = None


@receiver(setting_changed)
def _broker_reset_on_q_cluster_change(*, setting, **kwargs):
    if setting == "Q_CLUSTER":
        broker_reset()


def _broker_forget_after_fork() -> None:
    # A forked child builds its own client (the pid in the key would see to that too) and
    # must not inherit a lock another thread of the parent held at the fork.
    global _broker, _broker_lock
    _broker, _broker_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_broker_forget_after_fork)

SUBMIT_TASK = "videogen.tasks.submit_job"
FETCH_OUTPUTS_TASK = "videogen.tasks.fetch_outputs"
POLL_TASK = "videogen.tasks.poll_job"
SYNC_MODELS_TASK = "videogen.tasks.sync_models"


def _enqueue(task: str, job_id: int, name: str, recovery: str, **options) -> bool:
    """``True`` once the broker has the task (or it ran, with ``TASKS_SYNC``); inside
    ``enqueue_batch()``, once it is collected for the batch. Otherwise it takes the batch's
    path as a batch of one (the same package and write), not ``async_task``: django-q2's ORM
    enqueue first closes "old" connections, with ``CONN_MAX_AGE = 0`` the request's own."""
    if _collect(task, job_id, name, recovery, options):
        return True
    if not _runs_now():
        return _send([(task, job_id, name, recovery, options)])
    try:
        async_task(
            task,
            job_id,
            sync=videogen_settings.TASKS_SYNC,
            task_name=f"{name}-{job_id}",
            broker=broker(),
            **options,
        )
    except Exception:
        # Never lose the request over a broker hiccup: the sweep recovers it (see recovery).
        logger.exception("videogen: could not enqueue %s for job %s (%s)", task, job_id, recovery)
        return False
    return True


def enqueue_submit(job_id: int) -> None:
    """Queue the submission of one job. Safe to call twice: the claim happens only once."""
    _enqueue(
        SUBMIT_TASK, job_id, "videogen-submit", "the job stays queued; the sweep re-enqueues it"
    )


def fetch_task_timeout() -> int:
    """Seconds a fetch task may run: its download budget, plus one read timeout (a read in
    progress when the budget ends), plus a little. django-q2 kills the task after this."""
    return int(
        float(videogen_settings.OUTPUT_FETCH_TIMEOUT_SECONDS)
        + float(videogen_settings.READ_TIMEOUT)
        + 10
    )


def enqueue_fetch_outputs(job_id: int) -> None:
    """Queue the download of a completed job's outputs. Safe to repeat: stored ones are skipped.

    The task carries its own django-q2 timeout, sized for large files
    (``OUTPUT_FETCH_TIMEOUT_SECONDS`` + ``READ_TIMEOUT``), not the cluster's default.
    """
    _enqueue(
        FETCH_OUTPUTS_TASK,
        job_id,
        "videogen-outputs",
        "the sweep enqueues it again",
        timeout=fetch_task_timeout(),
    )


def enqueue_poll(job_id: int) -> bool:
    """Queue one poll of a job (staff's *Poll now*). Safe to repeat: the poll leases the job,
    so two tasks for one job poll it once. ``False`` when the broker refused it."""
    return _enqueue(POLL_TASK, job_id, "videogen-poll", "the sweep polls it when it is due")


def enqueue_catalog_sync() -> bool:
    """Queue a sync of the model catalog (staff's *Sync now*). ``False`` when the broker
    refused it (the schedule still syncs it)."""
    try:
        async_task(
            SYNC_MODELS_TASK,
            sync=videogen_settings.TASKS_SYNC,
            task_name="videogen-sync",
            broker=broker(),
        )
    except Exception:
        logger.exception("videogen: could not enqueue the catalog sync (the schedule runs it)")
        return False
    return True


# --- many tasks at once ---------------------------------------------------------------------


@dataclass
class _Batch:
    tasks: list[tuple[str, int, str, str, dict[str, Any]]] = field(default_factory=list)


_batches = threading.local()


def _runs_now() -> bool:
    """``TASKS_SYNC`` (tasks run in the calling process) or django-q2's own ``sync``: each
    task goes through ``async_task``, which decides, never into a batch."""
    return bool(videogen_settings.TASKS_SYNC or Conf.SYNC)


def _collect(task: str, job_id: int, name: str, recovery: str, options: dict) -> bool:
    batch = getattr(_batches, "current", None)
    if batch is None or _runs_now():
        return False  # sent or run now
    batch.tasks.append((task, job_id, name, recovery, options))
    return True


@contextmanager
def enqueue_batch() -> Iterator[None]:
    """Collect this thread's enqueues and hand them to the broker together at the end.

    With django-q2's ORM broker that is one multi-row INSERT into its queue table, with the
    Redis broker one RPUSH of every task; other brokers get them one by one. A task is the
    same package ``async_task`` would have built (``pre_enqueue`` is sent for each). If the
    broker refuses the batch, each task is logged as ``_enqueue`` does: the sweep that
    recovers each kind of work re-enqueues it (never lost, at worst late). Nested batches
    join the outer one.
    """
    if getattr(_batches, "current", None) is not None:
        yield
        return
    batch = _batches.current = _Batch()
    try:
        yield
    finally:
        _batches.current = None
        if batch.tasks:
            _send(batch.tasks)


def _package(task: str, job_id: int, name: str, options: dict[str, Any], task_id: str) -> str:
    """``async_task``'s package for ``task(job_id)`` (django_q.tasks.async_task)."""
    package: dict[str, Any] = {"id": task_id, "name": f"{name}-{job_id}", "func": task}
    package["args"] = (job_id,)
    package["sync"] = False  # as _enqueue passes it (a batch is never synchronous)
    package.update(options)
    if Conf.CACHED:
        package.setdefault("cached", Conf.CACHED)
    if Conf.ACK_FAILURES:
        package.setdefault("ack_failure", Conf.ACK_FAILURES)
    package["kwargs"] = {}
    package["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=package)
    return SignedPackage.dumps(package)


def _task_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as hex, the ids ``async_task`` gives its tasks,
    from one read of the system's randomness rather than one each (a system call apiece)."""
    randomness = os.urandom(16 * count)
    return [uuid.UUID(bytes=randomness[16 * i : 16 * (i + 1)], version=4).hex for i in range(count)]


def _send(tasks: list[tuple[str, int, str, str, dict[str, Any]]]) -> bool:
    """Hand ``tasks`` to the broker together; ``False`` (logged) when it refused them."""
    try:
        packs = [
            _package(task, job_id, name, opts, task_id)
            for (task, job_id, name, _, opts), task_id in zip(
                tasks, _task_ids(len(tasks)), strict=True
            )
        ]
        _push(broker(), packs)
    except Exception:
        logger.exception(
            "videogen: could not enqueue %d task%s: %s",
            len(tasks),
            "" if len(tasks) == 1 else "s",
            "; ".join(
                f"{task} for job {job_id} ({recovery})" for task, job_id, _, recovery, _ in tasks
            ),
        )
        return False
    logger.debug("videogen: enqueued %d task%s", len(packs), "" if len(packs) == 1 else "s")
    return True


def _push(target: Broker, packs: list[str]) -> None:
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    # Looked up, not imported: a Redis broker has imported it, and importing redis costs
    # a sweep that uses the ORM broker a good part of a second.
    redis_broker = sys.modules.get("django_q.brokers.redis_broker")
    if isinstance(target, ORM):
        # What ORM.enqueue writes, in one INSERT. Its close_old_connections() before each
        # enqueue is left out: it would drop a sweep's connection mid-sweep (CONN_MAX_AGE 0).
        now = timezone.now()
        key = target.list_key or Conf.CLUSTER_NAME
        rows = [OrmQ(key=key, payload=pack, lock=now) for pack in packs]
        alias = Conf.ORM or DEFAULT_DB_ALIAS
        if alias == DEFAULT_DB_ALIAS and connections[alias].vendor == "postgresql":
            bulk.insert(rows)  # the rows as one JSON parameter: a third of bulk_create's CPU
        else:
            OrmQ.objects.using(alias).bulk_create(rows)
    elif redis_broker is not None and isinstance(target, redis_broker.Redis):
        target.connection.rpush(target.list_key, *packs)
    else:
        for pack in packs:
            target.enqueue(pack)
