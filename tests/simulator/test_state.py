"""The lazy job timeline, prompt markers and the test hooks of the job store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from videogen.simulator.state import JobStore, outcome_for_prompt


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    return JobStore(clock=clock)


def make(store, prompt="a cat", **kwargs):
    values = {"model": "google/veo-3.1", "cost": Decimal("1.5"), "pending_seconds": 2.0}
    values["processing_seconds"] = 3.0
    values.update(kwargs)
    return store.create(prompt=prompt, **values)


def test_status_follows_the_clock(store, clock):
    job = make(store)
    observed = []
    for t in (0, 1.99, 2.0, 4.99, 5.0, 500):
        clock.now = 1000.0 + t
        observed.append(store.status(job.id))
    assert observed == [
        "pending", "pending", "in_progress", "in_progress", "completed", "completed",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("prompt", "outcome"),
    [
        ("plain", "completed"),
        ("x [sim:fail] y", "failed"),
        ("[sim:cancel]", "cancelled"),
        ("[sim:expire] later", "expired"),
        ("[sim:late-cost]", "completed"),
    ],
)
def test_markers_choose_the_outcome(prompt, outcome):
    assert outcome_for_prompt(prompt) == outcome


def test_failed_jobs_carry_an_error_only_once_terminal(store, clock):
    job = make(store, prompt="[sim:fail]")
    assert store.view(job.id).error is None
    clock.now += 10
    view = store.view(job.id)
    assert view.status == "failed"
    assert "failure" in view.error


def test_late_cost_hides_the_cost_for_the_configured_polls(store, clock):
    job = make(store, prompt="[sim:late-cost]", late_cost_polls=2)
    clock.now += 10
    # Uncounted views (webhooks, control API) never spend the late polls.
    assert store.view(job.id, count_poll=False).cost is None
    assert [store.view(job.id).cost for _ in range(3)] == [None, None, Decimal("1.5")]


def test_late_cost_polls_only_count_once_completed(store, clock):
    job = make(store, prompt="[sim:late-cost]")
    store.view(job.id)  # pending: does not spend the late poll
    clock.now += 10
    assert store.view(job.id).cost is None
    assert store.view(job.id).cost == Decimal("1.5")


def test_set_status_pins_the_job(store, clock):
    job = make(store)
    store.set_status(job.id, "in_progress")
    clock.now += 100
    assert store.status(job.id) == "in_progress"
    store.set_status(job.id, "expired")
    assert store.view(job.id).error.startswith("Simulated expiry")
    store.set_status(job.id, "failed", error="boom", cost="0.25")
    view = store.view(job.id)
    assert (view.status, view.error, view.cost) == ("failed", "boom", Decimal("0.25"))


def test_set_status_rejects_unknowns(store):
    job = make(store)
    with pytest.raises(ValueError, match="unknown status"):
        store.set_status(job.id, "done")
    with pytest.raises(KeyError):
        store.set_status("job-missing", "failed")
    with pytest.raises(ArithmeticError):
        store.set_status(job.id, "completed", cost="abc")
    assert store.status(job.id) == "pending"


def test_forget_makes_the_job_unknown(store):
    job = make(store)
    assert store.forget(job.id) is True
    assert store.view(job.id) is None
    assert store.forget(job.id) is False
    assert job.id not in store


def test_terminal_listener_gets_the_due_time_and_forced_ends(store, clock):
    calls = []
    store.add_terminal_listener(lambda job_id, when: calls.append((job_id, when)))
    silent = make(store)
    job = make(store, callback_url="https://example.com/hook")
    store.set_status(job.id, "in_progress")
    store.set_status(job.id, "cancelled")
    store.set_status(silent.id, "failed")

    assert calls == [(job.id, 1005.0), (job.id, 1000.0)]


def test_ids_are_unique_and_counts_by_status(store, clock):
    jobs = [make(store) for _ in range(50)]
    store.set_status(jobs[0].id, "failed")
    assert len({j.id for j in jobs}) == 50
    assert len({j.generation_id for j in jobs}) == 50
    assert store.counts_by_status() == {"pending": 49, "failed": 1}
    store.clear()
    assert len(store) == 0
