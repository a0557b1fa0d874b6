"""videogen's django-q2 schedules, created idempotently by name."""

from __future__ import annotations

from django.db import connection, transaction
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
    with transaction.atomic():
        _one_caller_at_a_time()
        return [
            _schedule_ensure(
                name,
                {
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": max(1, int(minutes)),
                    "repeats": -1,
                },
            )
            for name, (func, minutes) in wanted.items()
        ]


# pg_advisory_xact_lock key: "videogen schedules".
_SCHEDULES_LOCK = 0x76_67_73_63_68


def _one_caller_at_a_time() -> None:
    """Serialise concurrent callers (two hosts running ``migrate`` at once) until commit.

    django-q2 does not make ``Schedule.name`` unique, so without this both could find no
    schedule and both create one. PostgreSQL: a transaction-scoped advisory lock. SQLite
    serialises writers itself (the demo opens transactions ``IMMEDIATE``).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEDULES_LOCK])


def _schedule_ensure(name: str, fields: dict) -> Schedule:
    """The one schedule called ``name``, with ``fields`` (duplicates from before: removed)."""
    rows = list(Schedule.objects.filter(name=name).order_by("pk"))
    if not rows:
        return Schedule.objects.create(name=name, **fields)
    keep, extra = rows[0], rows[1:]
    Schedule.objects.filter(pk=keep.pk).update(**fields)
    if extra:
        Schedule.objects.filter(pk__in=[row.pk for row in extra]).delete()
    for field, value in fields.items():
        setattr(keep, field, value)
    return keep
