"""Retention of webhook deliveries: without it the table grows with every request stored.

Run daily by the ``videogen.prune_deliveries`` schedule and by
``manage.py videogen_prune_deliveries``. Deliveries go after ``WEBHOOK_RETENTION_DAYS``;
refused ones (bad signature, oversized) sooner, after ``WEBHOOK_REFUSED_RETENTION_DAYS``.
A pruned delivery's idempotency key is forgotten; a provider retry that late carries a new
timestamp and is applied again, harmlessly (the lifecycle never moves a finished job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from videogen.conf import videogen_settings
from videogen.models import WebhookDelivery, WebhookOutcome

# Rows deleted per statement: short transactions, no long lock on a big table.
DELETE_BATCH_SIZE = 2000


@dataclass(frozen=True)
class DeliveryPruneReport:
    kept_days: int | None  # retention applied to accepted deliveries (None: kept)
    refused_days: int | None  # retention applied to refused ones (None: kept)
    accepted: int  # deleted (or, in a dry run, to delete)
    refused: int
    dry_run: bool

    @property
    def total(self) -> int:
        return self.accepted + self.refused

    def __str__(self) -> str:
        verb = "would be deleted" if self.dry_run else "deleted"
        return f"{self.total} webhook deliveries {verb} ({self.refused} of them refused)"


def webhook_deliveries_prune(
    *, days: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> DeliveryPruneReport:
    """Delete deliveries received more than ``days`` ago (default: the setting), and refused
    ones past the refused retention (never kept longer than the others)."""
    if days is not None and days < 0:
        raise ValueError("days must not be negative")
    now = now or timezone.now()
    days = videogen_settings.WEBHOOK_RETENTION_DAYS if days is None else days
    refused_days = videogen_settings.WEBHOOK_REFUSED_RETENTION_DAYS
    if refused_days is None or (days is not None and days < refused_days):
        refused_days = days
    rejected = WebhookOutcome.REJECTED
    accepted = _older_than(days, now).exclude(outcome=rejected)
    refused = _older_than(refused_days, now).filter(outcome=rejected)
    if dry_run:
        counts = accepted.count(), refused.count()
    else:
        counts = _delete_in_batches(accepted), _delete_in_batches(refused)
    return DeliveryPruneReport(days, refused_days, *counts, dry_run=dry_run)


def _older_than(days: int | None, now: datetime) -> QuerySet[WebhookDelivery]:
    if days is None:
        return WebhookDelivery.objects.none()
    return WebhookDelivery.objects.filter(received_at__lt=now - timedelta(days=days))


def _delete_in_batches(queryset: QuerySet[WebhookDelivery]) -> int:
    deleted = 0
    while True:
        batch = list(queryset.order_by().values_list("pk", flat=True)[:DELETE_BATCH_SIZE])
        if not batch:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]
