"""Enqueueing through django-q2: one broker per process, whatever the number of tasks.

The Redis variant runs in CI's PostgreSQL pass, which has ``REDIS_URL`` (the site's
``Q_CLUSTER`` is then on django-q2's Redis broker); on SQLite the ORM broker is used.
Also tasks enqueued in a batch (``enqueue_batch``), with the broker the settings give.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from videogen.services import queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def brokers_built(monkeypatch) -> list[Broker]:
    """Every django-q2 broker built from here on (each Redis broker is a new client)."""
    built: list[Broker] = []
    init = Broker.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Broker, "__init__", counting_init)
    return built


@pytest.fixture
def own_queue(monkeypatch, settings):
    """A queue of this test's own (others' tasks may wait in the default one), tasks sent
    to the broker (not run in process), and no broker left over from another test."""
    settings.VIDEOGEN = {**getattr(settings, "VIDEOGEN", {}), "TASKS_SYNC": False}
    name = f"videogen-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    queue.broker_reset()
    yield name
    queue.broker().purge_queue()
    queue.broker_reset()


def _queued_polls() -> list[int]:
    """The job ids of the poll tasks waiting in the queue (taken off it)."""
    broker = queue.broker()
    jobs = []
    while batch := broker.dequeue():
        for ack_id, payload in batch:
            task = SignedPackage.loads(payload)
            assert task["func"] == queue.POLL_TASK
            jobs.append(task["args"][0])
            broker.acknowledge(ack_id)
    return sorted(jobs)


def _enqueue_from_threads(job_ids: list[int], threads: int) -> None:
    failures = []

    def work(share):
        try:
            for job_id in share:
                if not queue.enqueue_poll(job_id):
                    failures.append(job_id)
        finally:
            connection.close()  # the ORM broker's, opened by this thread

    workers = [threading.Thread(target=work, args=(job_ids[n::threads],)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


def _many_tasks_one_broker(brokers_built) -> None:
    job_ids = list(range(1, 61))
    for job_id in job_ids[:20]:
        assert queue.enqueue_poll(job_id)
    _enqueue_from_threads(job_ids[20:], threads=8)
    assert len(brokers_built) == 1
    assert _queued_polls() == job_ids  # every task reached the queue, each once


def test_enqueuing_many_tasks_builds_one_broker(own_queue, brokers_built):
    _many_tasks_one_broker(brokers_built)


@pytest.mark.postgres
def test_enqueuing_many_tasks_opens_one_redis_client(own_queue, brokers_built):
    if not os.environ.get("REDIS_URL"):
        pytest.fail(
            "This test needs REDIS_URL (django-q2's Redis broker) next to a PostgreSQL "
            "DATABASE_URL, as in CI's PostgreSQL pass; it is not skipped there."
        )
    assert django_settings.Q_CLUSTER.get("redis") == os.environ["REDIS_URL"]
    _many_tasks_one_broker(brokers_built)
    assert type(queue.broker()).__module__ == "django_q.brokers.redis_broker"


def test_another_queue_or_broker_setting_gets_a_broker_of_its_own(
    own_queue, brokers_built, monkeypatch, settings
):
    assert queue.enqueue_poll(1)
    other = f"{own_queue}-other"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", other)
    assert queue.enqueue_poll(2)
    assert [b.list_key.removeprefix("django_q:").removesuffix(":q") for b in brokers_built] == [
        own_queue,
        other,
    ]
    assert _queued_polls() == [2]
    monkeypatch.setattr(Conf, "CLUSTER_NAME", own_queue)
    settings.Q_CLUSTER = {**django_settings.Q_CLUSTER}  # setting_changed: built again
    assert _queued_polls() == [1]
    assert len(brokers_built) == 3


@pytest.fixture
def broker(settings):
    settings.VIDEOGEN = {"TASKS_SYNC": False}
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def waiting(broker) -> list[dict]:
    """The packages waiting in the broker, decoded, oldest first."""
    if hasattr(broker.connection, "lrange"):
        packs = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        from django_q.models import OrmQ

        packs = list(OrmQ.objects.order_by("pk").values_list("payload", flat=True))
    return [SignedPackage.loads(pack) for pack in packs]


def test_a_batch_reaches_the_broker_when_it_ends(broker):
    with queue.enqueue_batch():
        for job_id in (3, 1, 2):
            queue.enqueue_fetch_outputs(job_id)
        assert waiting(broker) == []
    tasks = waiting(broker)
    assert [(t["func"], t["args"], t["name"]) for t in tasks] == [
        (queue.FETCH_OUTPUTS_TASK, (job_id,), f"videogen-outputs-{job_id}") for job_id in (3, 1, 2)
    ]
    assert {t["timeout"] for t in tasks} == {queue.fetch_task_timeout()}
    assert len({t["id"] for t in tasks}) == 3


def test_a_task_single_or_batched_is_the_package_async_task_builds(broker):
    """One enqueue and a batch both write their own packages (not through ``async_task``):
    the worker must find in each exactly what django-q2's ``async_task`` would have sent."""
    from django_q.tasks import async_task

    async_task(
        queue.FETCH_OUTPUTS_TASK,
        7,
        sync=False,
        task_name="videogen-outputs-7",
        broker=broker,
        timeout=queue.fetch_task_timeout(),
    )
    assert queue.enqueue_fetch_outputs(7) is None  # fire and forget; the sweep recovers
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(7)
    reference, single, batched = waiting(broker)

    def without_identity(package: dict) -> dict:
        return {k: v for k, v in package.items() if k not in ("id", "started")}

    assert single.keys() == batched.keys() == reference.keys()
    assert without_identity(single) == without_identity(batched) == without_identity(reference)
    assert len({reference["id"], single["id"], batched["id"]}) == 3


def test_a_single_task_refused_by_the_broker_is_logged_and_reported(broker, monkeypatch, caplog):
    def no_broker(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "broker", no_broker)
    assert queue.enqueue_poll(5) is False
    assert "could not enqueue 1 task:" in caplog.text
    assert "videogen.tasks.poll_job for job 5 (the sweep polls it when it is due)" in caplog.text


def test_a_batch_in_the_orm_broker_is_what_its_own_enqueue_writes(own_queue, monkeypatch):
    """On PostgreSQL the batch reaches django-q2's queue table in one JSON parameter, not
    through ``bulk_create``: the rows must still be what the ORM broker writes and reads."""
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    monkeypatch.setattr(Conf, "ORM", "default")  # whatever broker the suite runs with
    queue.broker_reset()
    target = queue.broker()
    assert isinstance(target, ORM)
    target.enqueue("the broker's own")
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(3)
        queue.enqueue_fetch_outputs(4)

    own, *batched = OrmQ.objects.filter(key=own_queue).order_by("pk")
    assert [(row.key, row.lock is not None) for row in batched] == [(own_queue, True)] * 2
    assert target.queue_size() == 3
    payloads = []
    while taken := target.dequeue():  # the broker reads each row back
        payloads += [payload for _, payload in taken]
    assert own.payload in payloads
    tasks = [SignedPackage.loads(p) for p in payloads if p != own.payload]
    assert sorted(task["args"] for task in tasks) == [(3,), (4,)]


def test_nested_batches_join_the_outer_one(broker):
    with queue.enqueue_batch():
        with queue.enqueue_batch():
            queue.enqueue_submit(1)
        assert waiting(broker) == []
        queue.enqueue_poll(2)
    assert [t["func"] for t in waiting(broker)] == [queue.SUBMIT_TASK, queue.POLL_TASK]


def test_a_refused_batch_is_logged_and_never_raises(broker, monkeypatch, caplog):
    def no_broker(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "broker", no_broker)
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(5)
    assert "could not enqueue 1 task:" in caplog.text and "for job 5" in caplog.text


def test_with_tasks_sync_nothing_is_held_back(settings, monkeypatch):
    settings.VIDEOGEN = {"TASKS_SYNC": True}
    ran = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: ran.append(args))
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(9)
        assert ran == [(queue.FETCH_OUTPUTS_TASK, 9)]


@pytest.mark.postgres
def test_a_webhook_that_enqueues_work_keeps_its_database_connection(
    own_queue, monkeypatch, settings, client
):
    """django-q2's own ORM enqueue first closes the connections it deems old, and with
    Django's default ``CONN_MAX_AGE = 0`` that is the request's own: a completion webhook
    (its download enqueued on commit) reconnected to write the task. It uses one connection.

    PostgreSQL: the suite's SQLite database lives in memory and is never closed."""
    from django.db.backends.signals import connection_created
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    from tests.factories import make_job
    from tests.webhook_signing import SECRET, event, sign
    from videogen.models import JobStatus

    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "API_KEY": "k",
        "WEBHOOK_SECRETS": [SECRET],
        "STORE_OUTPUTS": True,
    }
    monkeypatch.setattr(Conf, "ORM", "default")  # whatever broker the suite runs with
    queue.broker_reset()
    assert isinstance(queue.broker(), ORM)
    job = make_job(status=JobStatus.IN_PROGRESS, provider_job_id="job-conn", duration=8)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)  # Django's default
    connection.close()
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(count)
    try:
        body = event("job-conn", cost=0.5)
        answer = client.post(
            "/videogen/webhooks/openrouter/",
            body,
            content_type="application/json",
            HTTP_X_OPENROUTER_SIGNATURE=sign(body),
        )
    finally:
        connection_created.disconnect(count)
    assert answer.status_code == 204
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    tasks = [
        SignedPackage.loads(p)
        for p in OrmQ.objects.filter(key=own_queue).values_list("payload", flat=True)
    ]
    assert [(t["func"], t["args"]) for t in tasks] == [(queue.FETCH_OUTPUTS_TASK, (job.pk,))]
    assert opened == ["default"]
