"""``videogen_prune_deliveries`` and its daily schedule: WebhookDelivery stays bounded."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from videogen.models import WebhookDelivery, WebhookOutcome
from videogen.services.schedules import PRUNE_DELIVERIES_SCHEDULE, schedules_ensure
from videogen.services.webhooks import retention as webhook_retention

pytestmark = pytest.mark.django_db


def delivery(days_old: float, outcome: str = WebhookOutcome.PROCESSED) -> WebhookDelivery:
    row = WebhookDelivery.objects.create(outcome=outcome, body="{}")
    received = timezone.now() - timedelta(days=days_old)
    WebhookDelivery.objects.filter(pk=row.pk).update(received_at=received)
    return row


@pytest.fixture
def deliveries():
    """Accepted ones 1, 20 and 40 days old; refused ones 1, 10 and 40 days old."""
    return {
        "new": delivery(1),
        "month-ish": delivery(20, WebhookOutcome.UNPROCESSABLE),
        "old": delivery(40),
        "refused-new": delivery(1, WebhookOutcome.REJECTED),
        "refused-10": delivery(10, WebhookOutcome.REJECTED),
        "refused-old": delivery(40, WebhookOutcome.REJECTED),
    }


def left(deliveries) -> set[str]:
    kept = set(WebhookDelivery.objects.values_list("pk", flat=True))
    return {name for name, row in deliveries.items() if row.pk in kept}


def run(*args) -> str:
    out = StringIO()
    call_command("videogen_prune_deliveries", *args, stdout=out)
    return out.getvalue()


def test_default_retention_keeps_30_days_and_refused_ones_7(deliveries):
    output = run()
    assert left(deliveries) == {"new", "month-ish", "refused-new"}
    assert "3 webhook deliveries deleted (2 of them refused)" in output


def test_days_overrides_the_retention_for_every_delivery(deliveries):
    run("--days", "5")
    assert left(deliveries) == {"new", "refused-new"}
    run("--days", "0")
    assert left(deliveries) == set()


def test_dry_run_counts_and_deletes_nothing(deliveries):
    output = run("--dry-run")
    assert "3 webhook deliveries would be deleted (2 of them refused)" in output
    assert left(deliveries) == set(deliveries)


def test_a_retention_of_none_keeps_accepted_deliveries(deliveries, settings):
    settings.VIDEOGEN = {"WEBHOOK_RETENTION_DAYS": None}
    output = run()
    assert left(deliveries) == {"new", "month-ish", "old", "refused-new"}
    assert "Accepted deliveries are kept (VIDEOGEN['WEBHOOK_RETENTION_DAYS'] is None)" in output


def test_refused_ones_never_outlive_the_others(deliveries, settings):
    settings.VIDEOGEN = {"WEBHOOK_RETENTION_DAYS": 5, "WEBHOOK_REFUSED_RETENTION_DAYS": None}
    run()
    assert left(deliveries) == {"new", "refused-new"}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--days", "-1"], "must not be negative"), (["--days", "soon"], "invalid int value")],
)
def test_bad_arguments_are_command_errors(deliveries, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert left(deliveries) == set(deliveries)


def test_more_than_one_batch_is_pruned(monkeypatch):
    monkeypatch.setattr(webhook_retention, "DELETE_BATCH_SIZE", 3)
    for _ in range(10):
        delivery(40)
    assert "10 webhook deliveries deleted" in run()
    assert not WebhookDelivery.objects.exists()


def test_a_daily_schedule_runs_the_prune(deliveries):
    schedules_ensure()
    schedule = Schedule.objects.get(name=PRUNE_DELIVERIES_SCHEDULE)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES,
        24 * 60,
        -1,
    )
    # What the qcluster does when the schedule is due: call the task by its dotted path.
    assert not schedule.args
    result = import_string(schedule.func)()
    assert result == "3 webhook deliveries deleted (2 of them refused)"
    assert left(deliveries) == {"new", "month-ish", "refused-new"}
