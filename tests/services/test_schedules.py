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


def test_duplicates_left_by_an_earlier_race_are_removed_by_the_next_migrate():
    schedules_ensure()
    first = Schedule.objects.get(name=RECONCILE_SCHEDULE)
    Schedule.objects.create(name=RECONCILE_SCHEDULE, func="videogen.tasks.reconcile")
    call_command("migrate", verbosity=0)
    assert list(Schedule.objects.filter(name=RECONCILE_SCHEDULE)) == [first]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", [5])
def test_concurrent_migrates_leave_one_schedule_of_each(rounds):
    from django.apps import apps
    from django.db.models.signals import post_migrate

    from tests.concurrency import run_together

    videogen_app = apps.get_app_config("videogen")

    def migrate_finished(index, barrier):
        # What the end of `manage.py migrate` does, in several hosts at once, each round on
        # a database without the schedules.
        for _ in range(rounds):
            if index == 0:
                Schedule.objects.filter(name__startswith="videogen.").delete()
            barrier.wait(timeout=30)
            post_migrate.send(
                sender=videogen_app,
                app_config=videogen_app,
                verbosity=0,
                interactive=False,
                using="default",
                apps=apps,
                plan=[],
            )
            barrier.wait(timeout=30)
            results.append(count_schedules())
            barrier.wait(timeout=30)

    def count_schedules():
        return sorted(
            Schedule.objects.filter(name__startswith="videogen.").values_list("name", flat=True)
        )

    results = []
    run_together(6, migrate_finished)
    every = tuple(sorted((PRUNE_DELIVERIES_SCHEDULE, RECONCILE_SCHEDULE, SYNC_MODELS_SCHEDULE)))
    assert {tuple(r) for r in results} == {every}
