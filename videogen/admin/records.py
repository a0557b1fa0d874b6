"""Records in the admin: the ledger, job events and webhook deliveries. Read-only for
everyone (``RecordAdminMixin``); replaying a delivery stays an action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from videogen.admin import display
from videogen.admin.base import HygieneAdminMixin, RecordAdminMixin, ScaledListMixin
from videogen.admin.filters import CatalogModelFilter, DeliveryEventTypeFilter
from videogen.admin.report import usage_report_view
from videogen.models import JobEvent, UsageEntry, VideoJob, WebhookDelivery
from videogen.services.jobs.search import job_id_q
from videogen.services.money.display import money
from videogen.services.webhooks.receive import webhook_replay

JOB_SEARCH_HELP = _("A job id (or its first 8 characters), a provider job id or a generation id.")


def job_link(job) -> str:
    if job is None:
        return display.EMPTY
    url = reverse("admin:videogen_videojob_change", args=[job.pk])
    return format_html('<a href="{}">{}</a>', url, display.short_id(job.public_id))


class JobIdSearchMixin:
    """Search a record by its job's ids, exactly, through their indexes (never a scan of a
    big table): ``extra_search_fields`` are the record's own id columns, matched exactly."""

    search_fields = ["job"]  # shows the search box; the search is below
    search_help_text = JOB_SEARCH_HELP
    extra_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        by_job = job_id_q(term)
        q = Q(job__in=VideoJob.objects.filter(by_job)) if by_job is not None else Q(pk__in=[])
        for name in self.extra_search_fields:
            q |= Q(**{name: term})
        return queryset.filter(q), False


@admin.register(JobEvent)
class JobEventAdmin(
    HygieneAdminMixin, RecordAdminMixin, JobIdSearchMixin, ScaledListMixin, admin.ModelAdmin
):
    list_display = ["created_at", "job_short_id", "change", "source", "message"]
    list_filter = ["source", "to_status"]
    list_select_related = ["job"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]

    @admin.display(description=_("job"))
    def job_short_id(self, event: JobEvent):
        return job_link(event.job)

    @admin.display(description=_("status"))
    def change(self, event: JobEvent):
        return display.status_change(event)


@admin.register(UsageEntry)
class UsageEntryAdmin(
    HygieneAdminMixin, RecordAdminMixin, JobIdSearchMixin, ScaledListMixin, admin.ModelAdmin
):
    change_list_template = "admin/videogen/usageentry/change_list.html"
    list_display = [
        "completed_at",
        "job_short_id",
        "workspace",
        "model",
        "cost_display",
        "byok",
        "duration",
        "resolution",
    ]
    list_filter = ["workspace", CatalogModelFilter, "is_byok"]
    date_hierarchy = "completed_at"
    list_select_related = ["workspace", "job"]
    ordering = ["-completed_at", "-id"]
    sortable_by = ["completed_at", "cost_display"]

    @admin.display(description=_("job"))
    def job_short_id(self, entry: UsageEntry):
        return job_link(entry.job)

    @admin.display(description=_("cost"), ordering="cost")
    def cost_display(self, entry: UsageEntry):
        return money(entry.cost) if entry.cost is not None else display.EMPTY

    @admin.display(description=_("own key (BYOK)"))
    def byok(self, entry: UsageEntry):
        # Said only where true: a column of red crosses would read as errors.
        return _("yes") if entry.is_byok else ""

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        return [path("report/", report, name="videogen_usageentry_report"), *super().get_urls()]

    def report_view(self, request):
        return usage_report_view(self, request)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(
    HygieneAdminMixin, RecordAdminMixin, JobIdSearchMixin, ScaledListMixin, admin.ModelAdmin
):
    list_display = [
        "received_at",
        "event_type",
        "provider_job_id",
        "job_short_id",
        "signature_valid",
        "outcome",
    ]
    list_filter = [
        "outcome",
        "signature_valid",
        "idempotency_header_mismatch",
        DeliveryEventTypeFilter,
    ]
    extra_search_fields = ("idempotency_key", "provider_job_id")
    search_help_text = _("%(job)s Or an idempotency key.") % {"job": JOB_SEARCH_HELP}
    list_select_related = ["job"]
    ordering = ["-received_at", "-id"]
    sortable_by = ["received_at"]
    actions = ["replay_deliveries"]

    @admin.display(description=_("job"))
    def job_short_id(self, delivery: WebhookDelivery):
        return job_link(delivery.job)

    def has_replay_permission(self, request) -> bool:
        # The record itself is never changed by hand; applying it again is the model's
        # "change" permission's business.
        return request.user.has_perm("videogen.change_webhookdelivery")

    @admin.action(description=_("Replay (apply the stored event again)"), permissions=["replay"])
    def replay_deliveries(self, request, queryset):
        for delivery_id in queryset.values_list("pk", flat=True):
            answer = webhook_replay(delivery_id=delivery_id)
            level = messages.SUCCESS if answer.status_code < 300 else messages.WARNING
            self.message_user(request, f"Delivery {delivery_id}: {answer.message}", level)
