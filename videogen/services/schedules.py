"""videogen's django-q2 schedules, created idempotently by name."""

from __future__ import annotations

from django_q.models import Schedule

from videogen.conf import videogen_settings

RECONCILE_SCHEDULE = "videogen.reconcile"
SYNC_MODELS_SCHEDULE = "videogen.sync_models"
PRUNE_DELIVERIES_SCHEDULE = "videogen.prune_deliveries"


def schedules_ensure() -> list[Schedule]:
    """Create or update our schedules; running it any number of times leaves one of each."""
    wanted = {
        RECONCILE_SCHEDULE: ("videogen.tasks.reconcile", videogen_settings.RECONCILE_EVERY_MINUTES),
        SYNC_MODELS_SCHEDULE: (
            "videogen.tasks.sync_models",
            videogen_settings.MODEL_SYNC_INTERVAL_MINUTES,
        ),
        PRUNE_DELIVERIES_SCHEDULE: ("videogen.tasks.prune_deliveries", 24 * 60),
    }
    schedules = []
    for name, (func, minutes) in wanted.items():
        schedule, _ = Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": max(1, int(minutes)),
                "repeats": -1,
            },
        )
        schedules.append(schedule)
    return schedules
