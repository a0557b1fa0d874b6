"""Money truth, end to end: one provider job per site job, and every cent billed in the ledger.

A live site (webhooks), the simulator with its fault injection, jobs created through the
REST API and submitted by the task, then the recovery sweep, the webhook, the admin and the
audit command, as in production. Each case breaks submission the way real networks do,
before *and after* the provider processed the request, and asserts what the provider holds.
"""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import make_member, make_user, make_workspace
from tests.fixtures_app import live_site_settings
from tests.fixtures_simulator import fast_config
from videogen.models import (
    JobEvent,
    JobStatus,
    OutputStatus,
    Role,
    UsageEntry,
    VideoJob,
    VideoOutput,
)
from videogen.services.catalog import catalog_sync
from videogen.services.jobs.reconcile import reconcile_sweep
from videogen.services.money.budgets import workspace_month_spend

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-money-truth"
READ_TIMEOUT = 0.5


@pytest.fixture
def simulator_config():
    return fast_config(webhook_secret=SECRET, pending_seconds=0.05, processing_seconds=0.1)


@pytest.fixture
def site(live_server, simulator, settings, media_storage):
    settings.VIDEOGEN = live_site_settings(
        simulator,
        live_server,
        SECRET,
        TASKS_SYNC=True,
        READ_TIMEOUT=READ_TIMEOUT,
        POLL_INITIAL_DELAY_SECONDS=0,
        POLL_MAX_DELAY_SECONDS=0,
        FOLLOW_UP_POLL_SECONDS=0,
    )
    catalog_sync()
    workspace = make_workspace("money")
    member = make_member(workspace, make_user(), Role.MEMBER)
    client = APIClient()
    client.force_authenticate(member)
    return Site(simulator=simulator, workspace=workspace, client=client, settings=settings)


class Site:
    def __init__(self, *, simulator, workspace, client, settings):
        self.simulator = simulator
        self.workspace = workspace
        self.client = client
        self.settings = settings

    def configure(self, **videogen) -> None:
        self.settings.VIDEOGEN = {**self.settings.VIDEOGEN, **videogen}

    def faults(self, **patch) -> None:
        defaults = {
            "reset_rate": 0.0,
            "malformed_rate": 0.0,
            "server_error_rate": 0.0,
            "rate_limit_rate": 0.0,
            "latency_seconds": 0.0,
            "fault_after_processing": False,
            "latency_after_processing": False,
            "retry_after_seconds": 0,
        }
        self.simulator.config.apply_patch({**defaults, **patch})

    def create(self, prompt: str = "A fox in fresh snow", **fields) -> VideoJob:
        response = self.client.post(
            "/videogen/api/jobs/",
            {
                "workspace": self.workspace.slug,
                "model": "google/veo-3.1",
                "prompt": prompt,
                **fields,
            },
            format="json",
        )
        assert response.status_code == 202, response.content
        return VideoJob.objects.get(public_id=response.json()["id"])

    def provider_jobs(self) -> set[str]:
        return set(self.simulator.state.ids())

    def billed(self) -> Decimal:
        """What the provider billed: the cost of every job it completed."""
        total = Decimal(0)
        for job_id in self.provider_jobs():
            view = self.simulator.state.view(job_id, count_poll=False)
            if view.status == "completed":
                total += self.simulator.state.view_generation(view.generation_id).cost
        return total


@pytest.fixture
def unused_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


def sweep_until(predicate, timeout: float = 10.0) -> bool:
    """The recovery sweep, run as its schedule would, until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        reconcile_sweep()
        time.sleep(0.05)
    return predicate()


def status_of(job: VideoJob) -> str:
    return VideoJob.objects.values_list("status", flat=True).get(pk=job.pk)


def assert_one_provider_job_per_site_job(site: Site) -> None:
    bound = set(
        VideoJob.objects.exclude(provider_job_id=None).values_list("provider_job_id", flat=True)
    )
    assert site.provider_jobs() == bound


def assert_ledger_equals_what_the_provider_billed(site: Site) -> None:
    ledger = UsageEntry.objects.aggregate(total=Sum("cost"))["total"] or Decimal(0)
    assert ledger == site.billed() > 0


# (name, fault patch, status right after the POST, jobs the POST left at the provider)
SUBMISSION_FAULTS = [
    ("no fault", {}, JobStatus.PENDING, 1),
    ("reset before processing", {"reset_rate": 1.0}, JobStatus.UNKNOWN, 0),
    ("reset after processing", {"reset_rate": 1.0, "fault_after_processing": True}, "unknown", 1),
    ("cut body before processing", {"malformed_rate": 1.0}, JobStatus.UNKNOWN, 0),
    (
        "cut body after processing",
        {"malformed_rate": 1.0, "fault_after_processing": True},
        JobStatus.UNKNOWN,
        1,
    ),
    ("documented 5xx", {"server_error_rate": 1.0}, JobStatus.QUEUED, 0),
    (
        "gateway 5xx after processing",
        {"server_error_rate": 1.0, "fault_after_processing": True},
        JobStatus.UNKNOWN,
        1,
    ),
    ("429", {"rate_limit_rate": 1.0, "fault_after_processing": True}, JobStatus.QUEUED, 0),
    (
        "read timeout after processing",
        {"latency_seconds": READ_TIMEOUT * 3, "latency_after_processing": True},
        JobStatus.UNKNOWN,
        1,
    ),
]


@pytest.mark.parametrize(
    ("fault", "patch", "after_post", "created"),
    SUBMISSION_FAULTS,
    ids=[case[0] for case in SUBMISSION_FAULTS],
)
def test_every_submission_fault_ends_with_exactly_one_provider_job_and_its_cost_in_the_ledger(
    site, admin_client, fault, patch, after_post, created
):
    site.faults(**patch)
    job = site.create()
    site.faults()
    if after_post != JobStatus.PENDING or fault.startswith("read timeout"):
        # The webhook of a created job may already have completed it while the POST waited.
        assert status_of(job) in {after_post, JobStatus.COMPLETED}
    assert len(site.provider_jobs()) == created

    if created == 0 and after_post == JobStatus.UNKNOWN:
        # Nothing reached the provider, so no callback ever comes: the machine never
        # re-sends it, and once the window is over staff decide (and may bill twice).
        site.configure(UNKNOWN_OUTCOME_ATTENTION_SECONDS=0)
        assert sweep_until(lambda: VideoJob.objects.get(pk=job.pk).needs_attention)
        assert status_of(job) == JobStatus.UNKNOWN and not site.provider_jobs()
        admin_client.post(
            reverse("admin:videogen_videojob_changelist"),
            {"action": "resubmit_jobs", "_selected_action": [job.pk], "confirm": "yes"},
        )
        job = VideoJob.objects.get(resubmission_of=job)

    assert sweep_until(lambda: status_of(job) == JobStatus.COMPLETED), fault
    job.refresh_from_db()
    assert job.cost is not None and job.usage_entry.cost == job.cost
    assert len(site.provider_jobs()) == 1
    assert_one_provider_job_per_site_job(site)
    assert_ledger_equals_what_the_provider_billed(site)
    call_command("videogen_audit_ledger", "--against-provider")


def test_unknown_outcomes_are_completed_by_the_provider_callback_untouched_by_staff(site):
    site.faults(reset_rate=1.0, fault_after_processing=True)
    jobs = [site.create(f"fox {i}") for i in range(3)]
    site.faults()
    assert {status_of(job) for job in jobs} <= {JobStatus.UNKNOWN, JobStatus.COMPLETED}
    # No poll can reach them (no provider id): only the webhook, by its callback reference.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and VideoJob.objects.exclude(status="completed").exists():
        time.sleep(0.05)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED and job.provider_job_id
        assert job.poll_attempts == 0 and not job.needs_attention
        event = job.events.get(to_status=JobStatus.COMPLETED)
        assert event.source == "webhook" and "callback" in event.message
    assert_one_provider_job_per_site_job(site)
    assert_ledger_equals_what_the_provider_billed(site)


def test_a_connection_refused_is_retried_and_creates_one_provider_job(site, unused_tcp_port):
    site.configure(BASE_URL=f"http://127.0.0.1:{unused_tcp_port}/api/v1")
    job = site.create()
    assert status_of(job) == JobStatus.QUEUED and not site.provider_jobs()
    site.configure(BASE_URL=site.simulator.base_url)
    assert sweep_until(lambda: status_of(job) == JobStatus.COMPLETED)
    assert len(site.provider_jobs()) == 1
    assert_ledger_equals_what_the_provider_billed(site)


def test_a_refused_submission_fails_clearly_and_creates_nothing(site):
    job = site.create("A fox [sim:no-credits]")
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == (JobStatus.FAILED, "payment_required")
    assert "credits" in job.error.lower() and not site.provider_jobs()


# --- the provider's word wins after the site gave up ------------------------------------------


def give_up_by_deadline(site: Site) -> VideoJob:
    site.simulator.config.apply_patch({"pending_seconds": 3600.0})
    job = site.create()
    site.configure(JOB_DEADLINE_SECONDS=0.001)
    assert sweep_until(lambda: status_of(job) == JobStatus.FAILED)
    site.configure(JOB_DEADLINE_SECONDS=6 * 3600)
    job.refresh_from_db()
    assert (job.failure_reason, job.locally_closed) == ("deadline_exceeded", True)
    assert not UsageEntry.objects.filter(job=job).exists()
    return job


def assert_completed_after_giving_up(job: VideoJob, source: str) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and not job.locally_closed
    assert job.usage_entry.cost == job.cost > 0
    history = list(job.events.values_list("from_status", "to_status", "source"))
    assert ("in_progress", "failed", "sweep") in history or (
        "pending",
        "failed",
        "sweep",
    ) in history
    assert ("failed", "completed", source) in history
    # Its video is fetched after the completion commits (the same task as any completion).
    assert wait_until(
        lambda: VideoOutput.objects.filter(job=job, status=OutputStatus.STORED).exists()
    )


def test_a_job_given_up_on_that_the_provider_completes_is_billed_by_webhook(site):
    job = give_up_by_deadline(site)
    site.simulator.state.set_status(job.provider_job_id, "completed")  # fires the webhook
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and status_of(job) != JobStatus.COMPLETED:
        time.sleep(0.05)
    assert_completed_after_giving_up(job, "webhook")
    assert_ledger_equals_what_the_provider_billed(site)


def test_a_job_given_up_on_that_the_provider_completes_is_billed_by_follow_up_poll(site):
    site.configure(CALLBACK_URL=None)  # no webhooks at all: only the follow-up poll can see it
    job = give_up_by_deadline(site)
    site.simulator.state.set_status(job.provider_job_id, "completed")
    assert sweep_until(lambda: status_of(job) == JobStatus.COMPLETED)
    assert_completed_after_giving_up(job, "poll")
    assert_ledger_equals_what_the_provider_billed(site)


def test_a_job_failed_as_not_found_is_still_recorded_when_the_provider_completes_it(site):
    site.configure(CALLBACK_URL=None)
    site.simulator.config.apply_patch({"pending_seconds": 3600.0})
    job = site.create()
    job.refresh_from_db()
    hidden = site.simulator.state._jobs.pop(job.provider_job_id)  # a provider-side glitch
    assert sweep_until(lambda: status_of(job) == JobStatus.FAILED)
    job.refresh_from_db()
    assert (job.failure_reason, job.locally_closed) == ("not_found_at_provider", True)
    site.simulator.state._jobs[hidden.id] = hidden
    site.simulator.state.set_status(hidden.id, "completed")
    assert sweep_until(lambda: status_of(job) == JobStatus.COMPLETED)
    assert_ledger_equals_what_the_provider_billed(site)


def test_follow_up_polls_stop_after_their_window(site):
    site.configure(CALLBACK_URL=None)
    job = give_up_by_deadline(site)
    polls = VideoJob.objects.get(pk=job.pk).poll_attempts
    site.configure(FOLLOW_UP_SECONDS=0)
    reconcile_sweep()
    reconcile_sweep()
    job.refresh_from_db()
    assert job.next_poll_at is None and job.poll_attempts == polls


# --- late costs -------------------------------------------------------------------------------


@pytest.fixture
def late_cost_job(site):
    site.simulator.config.apply_patch({"late_cost_polls": 2})
    site.workspace.monthly_budget = Decimal("100")
    site.workspace.save()
    job = site.create("A fox at dawn [sim:late-cost]", duration=8, resolution="720p")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and status_of(job) != JobStatus.COMPLETED:
        time.sleep(0.05)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.cost is None
    assert job.usage_entry.cost is None and job.next_poll_at is not None
    # Until its cost is known the budget counts the job at its estimate.
    assert workspace_month_spend(workspace_id=site.workspace.pk)[1] == job.estimated_cost > 0
    return job


def assert_cost_arrived_once(site: Site, job: VideoJob) -> None:
    job.refresh_from_db()
    assert job.cost is not None and job.usage_entry.cost == job.cost
    assert job.next_poll_at is None
    assert JobEvent.objects.filter(job=job, message__contains="cost reported after").count() == 1
    assert workspace_month_spend(workspace_id=site.workspace.pk) == (job.cost, Decimal(0))
    assert_ledger_equals_what_the_provider_billed(site)


def test_a_late_cost_reaches_the_ledger_through_the_sweep(site, late_cost_job):
    assert sweep_until(lambda: VideoJob.objects.get(pk=late_cost_job.pk).cost is not None)
    assert_cost_arrived_once(site, late_cost_job)
    for _ in range(3):
        reconcile_sweep()  # no more polls once it is known
    assert_cost_arrived_once(site, late_cost_job)


def test_a_late_cost_reaches_the_ledger_through_the_api_refresh(site, late_cost_job):
    url = f"/videogen/api/jobs/{late_cost_job.public_id}/refresh/"
    costs = [site.client.post(url).json()["cost"] for _ in range(3)]
    assert costs[0] is None and costs[-1] is not None
    assert_cost_arrived_once(site, late_cost_job)


def test_a_late_cost_reaches_the_ledger_through_the_admin_poll_now(
    site, late_cost_job, admin_client
):
    for _ in range(3):
        admin_client.post(
            reverse("admin:videogen_videojob_changelist"),
            {"action": "poll_jobs_now", "_selected_action": [late_cost_job.pk]},
        )
    assert_cost_arrived_once(site, late_cost_job)


def test_a_cost_that_never_comes_is_flagged_for_staff(site, late_cost_job):
    site.simulator.config.apply_patch({"late_cost_polls": 1000})
    site.configure(LATE_COST_MAX_SECONDS=0)
    reconcile_sweep()
    late_cost_job.refresh_from_db()
    assert late_cost_job.needs_attention and late_cost_job.next_poll_at is None
    assert "has not reported this job's cost" in late_cost_job.last_error


def test_a_flagged_missing_cost_that_arrives_by_poll_now_clears_the_flag(
    site, late_cost_job, admin_client
):
    site.configure(LATE_COST_MAX_SECONDS=0)
    reconcile_sweep()
    assert VideoJob.objects.get(pk=late_cost_job.pk).needs_attention
    for _ in range(3):  # staff press Poll now until the provider has the cost
        admin_client.post(
            reverse("admin:videogen_videojob_changelist"),
            {"action": "poll_jobs_now", "_selected_action": [late_cost_job.pk]},
        )
    assert_cost_arrived_once(site, late_cost_job)
    late_cost_job.refresh_from_db()
    assert not late_cost_job.needs_attention
    assert late_cost_job.last_error == "" and late_cost_job.failure_reason == ""


# --- the ledger proven against the provider's own record --------------------------------------


def test_audit_against_the_provider_lists_every_difference(site):
    jobs = [site.create(f"fox {i}") for i in range(2)]
    assert sweep_until(lambda: all(status_of(j) == JobStatus.COMPLETED for j in jobs))
    call_command("videogen_audit_ledger", "--against-provider")
    UsageEntry.objects.filter(job=jobs[0]).update(cost=Decimal("9.99"))
    with pytest.raises(CommandError, match="1 problem"):
        call_command("videogen_audit_ledger", "--against-provider")
