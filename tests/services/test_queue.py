"""``videogen.services.queue``: tasks enqueued one by one and in a batch, with the broker
the settings give (django-q2's ORM broker, or Redis when ``REDIS_URL`` is set)."""

from __future__ import annotations

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from videogen.services import queue

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_batched_task_is_the_package_async_task_builds(broker):
    queue.enqueue_fetch_outputs(7)
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(7)
    single, batched = waiting(broker)
    assert single.keys() == batched.keys()
    assert {k: v for k, v in single.items() if k not in ("id", "started")} == {
        k: v for k, v in batched.items() if k not in ("id", "started")
    }


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

    monkeypatch.setattr(queue, "get_broker", no_broker)
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(5)
    assert "could not enqueue 1 tasks" in caplog.text and "for job 5" in caplog.text


def test_with_tasks_sync_nothing_is_held_back(settings, monkeypatch):
    settings.VIDEOGEN = {"TASKS_SYNC": True}
    ran = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: ran.append(args))
    with queue.enqueue_batch():
        queue.enqueue_fetch_outputs(9)
        assert ran == [(queue.FETCH_OUTPUTS_TASK, 9)]
