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
        schedules.append(
            _schedule_ensure(
                name,
                {
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": max(1, int(minutes)),
                    "repeats": -1,
                },
            )
        )
    return schedules


def _schedule_ensure(name: str, fields: dict) -> Schedule:
    """The one schedule called ``name``, with ``fields``, even with concurrent callers.

    django-q2 does not make ``Schedule.name`` unique, so two ``migrate`` runs at once (two
    deploying hosts) could both find no schedule and both create one: ``update_or_create``
    is not enough. Here every statement commits on its own, and after writing, the caller
    deletes every row of that name but the oldest. The caller that inserted last sees all
    rows and leaves only the oldest; nobody ever deletes the oldest; so one row remains.
    """
    oldest = Schedule.objects.filter(name=name).order_by("pk").first()
    if oldest is None:
        Schedule.objects.create(name=name, **fields)
    else:
        Schedule.objects.filter(pk=oldest.pk).update(**fields)
    keep = Schedule.objects.filter(name=name).order_by("pk").first()
    Schedule.objects.filter(name=name).exclude(pk=keep.pk).delete()
    return keep
