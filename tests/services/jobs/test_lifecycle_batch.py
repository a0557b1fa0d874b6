"""``jobs_apply_snapshots`` (lifecycle.py), the sweep's batch apply, against the per-job path.

Each scenario is a job in some state and the provider's answer to its poll. The same
scenarios are swept twice through ``reconcile_sweep`` against a canned API: once as the sweep
runs (answers applied in batches), once with the batch leaving every job to the per-job
function ``job_apply_snapshot`` (what the sweep did before, and still does with what a batch
leaves). Both must end the same: statuses and columns, events, ledger rows, signals and the
output downloads found in the broker.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.factories import make_workspace
from videogen import signals
from videogen.models import JobEvent, JobStatus, UsageEntry, VideoJob
from videogen.provider.types import VideoJobSnapshot
from videogen.services.jobs import reconcile
from videogen.services.jobs.lifecycle import (
    BatchResult,
    job_apply_snapshot,
    jobs_apply_snapshots,
)
from videogen.services.queue import FETCH_OUTPUTS_TASK

pytestmark = pytest.mark.django_db(transaction=True)

API = "https://openrouter.test/api/v1"
URLS = ["https://storage.example.com/out-0.mp4"]


def answer(status, *, cost="0.40", urls=URLS, usage=True, **extra):
    body = {"id": "?", "status": status, "polling_url": "/api/v1/videos/?", **extra}
    if status == "completed":
        body["unsigned_urls"] = urls
        body["generation_id"] = "gen-1"
    if usage and status in ("completed", "failed", "cancelled", "expired"):
        body["usage"] = {"cost": None if cost is None else float(cost), "is_byok": False}
    return body


def closed_locally(**fields):
    return {
        "status": JobStatus.FAILED,
        "locally_closed": True,
        "failure_reason": "deadline_exceeded",
        "error": "Not finished in time.",
        "finished_at_ago": 60,
        **fields,
    }


# name: (the job before the poll, its ledger row's cost if it has one, the answer)
SCENARIOS = {
    "pending→completed": ({"status": JobStatus.PENDING}, None, answer("completed")),
    "in_progress→completed": ({"status": JobStatus.IN_PROGRESS}, None, answer("completed")),
    "pending→completed, cost unknown": (
        {"status": JobStatus.PENDING},
        None,
        answer("completed", cost=None),
    ),
    "pending→completed, no usage": (
        {"status": JobStatus.PENDING},
        None,
        answer("completed", usage=False),
    ),
    "pending→in_progress": ({"status": JobStatus.PENDING}, None, answer("in_progress")),
    "pending→failed": ({"status": JobStatus.PENDING}, None, answer("failed", error="boom")),
    "in_progress→cancelled": ({"status": JobStatus.IN_PROGRESS}, None, answer("cancelled")),
    "pending→expired, free": ({"status": JobStatus.PENDING}, None, answer("expired", cost="0")),
    "completed, late cost": (
        {"status": JobStatus.COMPLETED, "finished_at_ago": 30, "unsigned_urls": URLS},
        "null",
        answer("completed", cost="0.55"),
    ),
    "completed, cost still unknown": (
        {"status": JobStatus.COMPLETED, "finished_at_ago": 30, "unsigned_urls": URLS},
        "null",
        answer("completed", cost=None),
    ),
    "closed locally, then completed and billed": (
        closed_locally(),
        None,
        answer("completed", cost="1.25"),
    ),
    "closed locally, then failed at the provider": (closed_locally(), None, answer("failed")),
    "closed locally, still in progress": (closed_locally(), None, answer("in_progress")),
    "in_progress→pending (backwards)": ({"status": JobStatus.IN_PROGRESS}, None, answer("pending")),
    "pending, an unknown status": ({"status": JobStatus.PENDING}, None, answer("rendering")),
    "pending, same status, new generation id": (
        {"status": JobStatus.PENDING},
        None,
        answer("pending", generation_id="gen-new"),
    ),
}


@pytest.fixture
def sweep_settings(settings, canned_api):
    settings.VIDEOGEN = {
        "API_KEY": "sk-test",
        "BASE_URL": canned_api.base_url,
        "TASKS_SYNC": False,
        "STORE_OUTPUTS": True,
        "POLL_CONCURRENCY": 4,
        "RECONCILE_APPLY_BATCH_SIZE": 5,  # several batches and a partial one
    }
    return settings.VIDEOGEN


@pytest.fixture
def broker():
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def queued_tasks(broker) -> list[tuple[str, tuple]]:
    """(function, args) of every task waiting in the broker (ORM or Redis)."""
    if hasattr(broker.connection, "lrange"):
        packs = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        from django_q.models import OrmQ

        packs = list(OrmQ.objects.values_list("payload", flat=True))
    tasks = [SignedPackage.loads(pack) for pack in packs]
    return [(task["func"], tuple(task["args"])) for task in tasks]


@pytest.fixture
def heard():
    """Every lifecycle signal, as (signal, job id, from, to, the job's status and cost)."""
    seen = []

    def on(name):
        def receiver(sender, job, from_status=None, to_status=None, **kwargs):
            seen.append((name, job.pk, from_status, to_status, job.status, job.cost))

        return receiver

    receivers = {
        signals.job_status_changed: on("changed"),
        signals.job_completed: on("completed"),
        signals.job_failed: on("failed"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver, weak=False)
    yield seen
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)


def make_jobs(world: str, scenarios: dict) -> dict[str, VideoJob]:
    workspace = make_workspace(slug=f"ws-{world}")
    now = timezone.now()
    jobs = {}
    for index, (name, (state, ledger_cost, _)) in enumerate(scenarios.items()):
        state = dict(state)
        ago = state.pop("finished_at_ago", None)
        job = VideoJob.objects.create(
            workspace=workspace,
            model="google/veo-3.1",
            prompt=name,
            duration=4,
            provider_job_id=f"{world}-{index}",
            submitted_at=now - timedelta(minutes=5),
            finished_at=now - timedelta(seconds=ago) if ago else None,
            next_poll_at=now - timedelta(seconds=1),
            **state,
        )
        if ledger_cost is not None:
            UsageEntry.objects.create(
                job=job,
                workspace=workspace,
                model=job.model,
                cost=None if ledger_cost == "null" else Decimal(ledger_cost),
                completed_at=job.finished_at,
            )
        jobs[name] = job
    return jobs


def mock_answers(api, world: str, scenarios: dict) -> None:
    for index, (_, _, body) in enumerate(scenarios.values()):
        pid = f"{world}-{index}"
        api.get(
            f"/videos/{pid}",
            json_body={**body, "id": pid, "polling_url": f"/api/v1/videos/{pid}"},
        )


def outcome(jobs: dict[str, VideoJob], heard: list, tasks: list) -> dict[str, dict]:
    """Everything the sweep left, per scenario, without ids, clocks or the world's name."""
    names = {job.pk: name for name, job in jobs.items()}
    result = {}
    for name, job in jobs.items():
        job.refresh_from_db()
        entry = UsageEntry.objects.filter(job=job).first()
        result[name] = {
            "job": {
                field: getattr(job, field)
                for field in (
                    "status",
                    "provider_status",
                    "failure_reason",
                    "error",
                    "locally_closed",
                    "needs_attention",
                    "generation_id",
                    "unsigned_urls",
                    "usage",
                    "version",
                    "poll_attempts",
                )
            }
            | {
                "finished": job.finished_at is not None,
                "polled again": job.next_poll_at is not None,
                "provider_response": {
                    k: v for k, v in job.provider_response.items() if k not in ("id", "polling_url")
                },
            },
            "events": [
                (e.from_status, e.to_status, e.source, e.message, e.payload.get("cost"))
                for e in JobEvent.objects.filter(job=job).order_by("pk")
            ],
            "ledger": entry
            and (entry.cost, entry.is_byok, entry.model, entry.duration, entry.resolution),
            "signals": [
                (signal, frm, to, status, cost)
                for signal, pk, frm, to, status, cost in heard
                if names.get(pk) == name
            ],
            "fetches": sum(
                1 for func, args in tasks if func == FETCH_OUTPUTS_TASK and args == (job.pk,)
            ),
        }
    return result


def sweep_world(world, api, broker, heard, monkeypatch, *, one_by_one: bool):
    jobs = make_jobs(world, SCENARIOS)
    mock_answers(api, world, SCENARIOS)
    if one_by_one:
        # The batch leaves every job to the per-job function.
        monkeypatch.setattr(
            reconcile,
            "jobs_apply_snapshots",
            lambda observations, source: BatchResult({}, [pk for pk, _ in observations]),
        )
    heard.clear()
    broker.purge_queue()
    report = reconcile.reconcile_sweep()
    monkeypatch.undo()
    assert report.polled == len(SCENARIOS) and report.errors == 0
    assert not api.unrequested()
    return outcome(jobs, heard, queued_tasks(broker)), report


def test_a_sweep_applying_in_batches_ends_exactly_as_one_by_one(
    sweep_settings, canned_api, broker, heard, monkeypatch, caplog
):
    batched, batch_report = sweep_world(
        "b", canned_api, broker, heard, monkeypatch, one_by_one=False
    )
    assert "undone" not in caplog.text  # the batches were applied as batches
    single, single_report = sweep_world(
        "s", canned_api, broker, heard, monkeypatch, one_by_one=True
    )
    assert batch_report.transitions == single_report.transitions
    for name in SCENARIOS:
        assert batched[name] == single[name], name


def test_each_completion_gets_one_event_one_ledger_row_its_signals_and_one_fetch(
    sweep_settings, canned_api, broker, heard, monkeypatch
):
    result, _ = sweep_world("b", canned_api, broker, heard, monkeypatch, one_by_one=False)
    done = result["pending→completed"]
    assert done["job"]["status"] == JobStatus.COMPLETED
    assert done["events"] == [("pending", "completed", "poll", "", None)]
    assert done["ledger"] == (Decimal("0.40"), False, "google/veo-3.1", 4, "")
    assert [s[:3] for s in done["signals"]] == [
        ("changed", "pending", "completed"),
        ("completed", None, None),
    ]
    assert all(s[3:] == ("completed", Decimal("0.40")) for s in done["signals"])  # as committed
    assert done["fetches"] == 1
    billed_late = result["closed locally, then completed and billed"]
    assert billed_late["ledger"][0] == Decimal("1.25") and billed_late["fetches"] == 1
    assert billed_late["job"]["locally_closed"] is False
    assert "after the site had given up" in billed_late["events"][0][3]
    late = result["completed, late cost"]
    assert late["ledger"][0] == Decimal("0.55")
    assert late["events"] == [
        ("completed", "completed", "poll", late["events"][0][3], "0.55")  # JSON: a string
    ]
    assert late["signals"] == [] and late["fetches"] == 0
    assert result["pending→completed, cost unknown"]["job"]["polled again"]
    assert result["in_progress→pending (backwards)"]["events"] == []
    assert result["pending→failed"]["signals"][-1][0] == "failed"


# --- the function itself ------------------------------------------------------------------


def snapshot(pid, status, **kwargs):
    body = answer(status, **kwargs)
    return VideoJobSnapshot.from_json({**body, "id": pid})


@pytest.fixture
def plain_settings(settings):
    settings.VIDEOGEN = {"API_KEY": "sk-test", "BASE_URL": API, "STORE_OUTPUTS": False}


def test_a_job_named_twice_is_applied_once_and_its_second_answer_left(plain_settings):
    jobs = make_jobs("d", {"a": SCENARIOS["pending→completed"]})
    job = jobs["a"]
    first = snapshot(job.provider_job_id, "in_progress")
    second = snapshot(job.provider_job_id, "completed")
    result = jobs_apply_snapshots([(job.pk, first), (job.pk, second)], source="poll")
    assert result.transitions[job.pk].to_status == JobStatus.IN_PROGRESS
    assert result.left == [job.pk]
    job_apply_snapshot(job_id=job.pk, snapshot=second, source="poll")
    assert list(JobEvent.objects.filter(job=job).values_list("to_status", flat=True)) == [
        "in_progress",
        "completed",
    ]


def test_a_missing_job_is_left_and_the_others_applied(plain_settings):
    job = make_jobs("m", {"a": SCENARIOS["pending→completed"]})["a"]
    result = jobs_apply_snapshots(
        [(job.pk + 1000, snapshot("gone", "completed")), (job.pk, snapshot("x", "completed"))],
        source="poll",
    )
    assert result.left == [job.pk + 1000]
    assert result.transitions[job.pk].changed
    assert UsageEntry.objects.filter(job=job).count() == 1


def test_a_failing_batch_is_undone_and_left_whole(plain_settings, monkeypatch):
    jobs = make_jobs("f", {k: SCENARIOS[k] for k in ("pending→completed", "pending→failed")})
    from videogen.services.jobs import lifecycle

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(lifecycle, "ledger_write_many", broken)
    observations = [(job.pk, snapshot(job.provider_job_id, "completed")) for job in jobs.values()]
    result = jobs_apply_snapshots(observations, source="poll")
    assert result.transitions == {} and sorted(result.left) == sorted(j.pk for j in jobs.values())
    assert not JobEvent.objects.exists()
    assert set(VideoJob.objects.values_list("status", flat=True)) == {JobStatus.PENDING}


def test_an_unknown_source_is_refused(plain_settings):
    with pytest.raises(ValueError, match="unknown event source"):
        jobs_apply_snapshots([], source="carrier-pigeon")


STATES = st.sampled_from(
    [
        {"status": JobStatus.PENDING},
        {"status": JobStatus.IN_PROGRESS},
        {"status": JobStatus.COMPLETED, "finished_at_ago": 30},
        {"status": JobStatus.FAILED, "finished_at_ago": 30},
        closed_locally(),
        closed_locally(status=JobStatus.EXPIRED),
    ]
)
ANSWERS = st.builds(
    answer,
    st.sampled_from(["pending", "in_progress", "completed", "failed", "cancelled", "expired"]),
    cost=st.sampled_from([None, "0", "0.40", "2.5"]),
    usage=st.booleans(),
)
LEDGER = st.sampled_from([None, None, "null", "0.40"])
EXAMPLES = itertools.count()


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=st.lists(st.tuples(STATES, LEDGER, ANSWERS), min_size=1, max_size=6))
def test_any_batch_ends_as_the_same_answers_applied_one_by_one(plain_settings, cases):
    """Jobs in any state, with or without a ledger row, any answer: the batch and the
    per-job function write the same (a ledger row only for a terminal job)."""
    cases = [
        (state, ledger if state["status"] in JobStatus.terminal() else None, body)
        for state, ledger, body in cases
    ]
    scenarios = {f"case {i}": case for i, case in enumerate(cases)}
    # Hypothesis runs every example in the one test database: each needs its own names
    # (``id()`` of a freed list comes back, and did, as a duplicate slug).
    example = next(EXAMPLES)
    batch_jobs = make_jobs(f"hb{example}", scenarios)
    single_jobs = make_jobs(f"hs{example}", scenarios)
    batch = jobs_apply_snapshots(
        [
            (job.pk, VideoJobSnapshot.from_json({**scenarios[name][2], "id": job.provider_job_id}))
            for name, job in batch_jobs.items()
        ],
        source="poll",
    )
    assert batch.left == []
    for name, job in single_jobs.items():
        job_apply_snapshot(
            job_id=job.pk,
            snapshot=VideoJobSnapshot.from_json({**scenarios[name][2], "id": job.provider_job_id}),
            source="poll",
        )
    assert outcome(batch_jobs, [], []) == outcome(single_jobs, [], [])
