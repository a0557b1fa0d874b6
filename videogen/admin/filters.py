"""List filters whose choices never scan a big table: from the catalog, or fixed."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from videogen.models import EventSource, JobStatus, VideoModel


class CatalogModelFilter(admin.SimpleListFilter):
    """By model, its choices from the catalog (a small table), not ``SELECT DISTINCT model``
    over every job. A model the catalog never listed can still be filtered by URL."""

    title = _("model")
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = VideoModel.objects.order_by("model_id").values_list("model_id", flat=True)
        return [(m, m) for m in models]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(model=value) if value else queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Only the jobs staff must look at (an index covers exactly those)."""

    title = _("attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Needs attention"))]

    def queryset(self, request, queryset):
        return queryset.filter(needs_attention=True) if self.value() == "yes" else queryset


class JobSourceFilter(admin.SimpleListFilter):
    """Where jobs were created; only the sources that create jobs are offered."""

    title = _("source")
    parameter_name = "source"
    SOURCES = (EventSource.API, EventSource.WEB, EventSource.COMMAND, EventSource.ADMIN)

    def lookups(self, request, model_admin):
        return [(s.value, s.label) for s in self.SOURCES]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(source=value) if value else queryset


class DeliveryEventTypeFilter(admin.SimpleListFilter):
    """By webhook event type: the provider's documented types (a fixed list, not a
    ``DISTINCT`` over every delivery); any other type can still be filtered by URL."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        statuses = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED)
        return [(f"video.generation.{s}",) * 2 for s in statuses]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(event_type=value) if value else queryset


class ListedFilter(admin.SimpleListFilter):
    """Catalog models the provider lists now, or no longer lists."""

    title = _("listed by the provider")
    parameter_name = "listed"

    def lookups(self, request, model_admin):
        return [("yes", _("Listed now")), ("no", _("No longer listed"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("yes", "no"):
            return queryset.filter(is_active=value == "yes")
        return queryset
