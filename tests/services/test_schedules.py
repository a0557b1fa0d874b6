import pytest
from django.core.management import call_command
from django_q.models import Schedule

from videogen.services.schedules import (
    PRUNE_DELIVERIES_SCHEDULE,
    RECONCILE_SCHEDULE,
    SYNC_MODELS_SCHEDULE,
    schedules_ensure,
)

pytestmark = pytest.mark.django_db


def test_migrate_created_the_schedules_once_and_reruns_never_duplicate(settings):
    schedules_ensure()
    schedules_ensure()
    call_command("migrate", verbosity=0)
    names = list(
        Schedule.objects.filter(name__startswith="videogen.").values_list("name", flat=True)
    )
    assert sorted(names) == sorted(
        [RECONCILE_SCHEDULE, SYNC_MODELS_SCHEDULE, PRUNE_DELIVERIES_SCHEDULE]
    )


def test_schedules_follow_the_settings(settings):
    settings.VIDEOGEN = {"RECONCILE_EVERY_MINUTES": 2, "MODEL_SYNC_INTERVAL_MINUTES": 30}
    schedules_ensure()
    reconcile = Schedule.objects.get(name=RECONCILE_SCHEDULE)
    assert (reconcile.func, reconcile.schedule_type, reconcile.minutes) == (
        "videogen.tasks.reconcile",
        Schedule.MINUTES,
        2,
    )
    assert Schedule.objects.get(name=SYNC_MODELS_SCHEDULE).minutes == 30
