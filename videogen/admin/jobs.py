"""Jobs in the admin: the list staff work from (this module), the job page
(``job_page``) and the actions (``job_actions``).

Status changes only ever happen through the lifecycle; the one field staff edit by hand is
the *needs attention* flag. The list never scans or counts a million rows (``ScaledListMixin``,
the filters, the search).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from videogen.admin import display
from videogen.admin.base import HygieneAdminMixin, ScaledListMixin
from videogen.admin.filters import CatalogModelFilter, JobSourceFilter, NeedsAttentionFilter
from videogen.admin.job_actions import JobActionsMixin
from videogen.admin.job_page import JobPageMixin
from videogen.models import VideoJob
from videogen.services.jobs.search import jobs_search


@admin.register(VideoJob)
class VideoJobAdmin(
    HygieneAdminMixin, JobActionsMixin, JobPageMixin, ScaledListMixin, admin.ModelAdmin
):
    list_display = [
        "short_id",
        "workspace",
        "model",
        "prompt_excerpt",
        "status_badge",
        "cost_display",
        "age",
    ]
    list_display_links = ["short_id"]
    # Every other column would sort a million rows.
    sortable_by = ["age", "cost_display"]
    list_filter = [
        NeedsAttentionFilter,
        "status",
        ("created_at", admin.DateFieldListFilter),
        "workspace",
        CatalogModelFilter,
        JobSourceFilter,
    ]
    # The search itself is ``get_search_results``; this only shows the box.
    search_fields = ["prompt"]
    search_help_text = _(
        "A job id (or its first 8 characters), a provider job id or a generation id; "
        "otherwise words of the prompt."
    )
    date_hierarchy = "created_at"
    list_select_related = ["workspace", "usage_entry"]
    ordering = ["-created_at", "-id"]
    raw_id_fields = ["created_by"]
    # --- the list ---------------------------------------------------------------------

    def get_queryset(self, request):
        # Unpriced jobs sort below every charge (not first, as NULLs would descending).
        return (
            super()
            .get_queryset(request)
            .annotate(cost_sort=Coalesce(F("usage_entry__cost"), Value(Decimal(-1))))
        )

    def get_search_results(self, request, queryset, search_term):
        return jobs_search(queryset, search_term), False

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "attention_count": VideoJob.objects.filter(needs_attention=True).count(),
            "attention_url": reverse("admin:videogen_videojob_changelist") + "?attention=yes",
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("job"))
    def short_id(self, job: VideoJob):
        return display.short_id(job.public_id)

    @admin.display(description=_("prompt"))
    def prompt_excerpt(self, job: VideoJob):
        return display.excerpt(job.prompt, 60)

    @admin.display(description=_("status"))
    def status_badge(self, job: VideoJob):
        badge = display.status_badge(job.status, job.get_status_display())
        if job.needs_attention:
            return format_html("{} {}", badge, display.attention_badge())
        return badge

    @admin.display(description=_("cost"), ordering="cost_sort")
    def cost_display(self, job: VideoJob):
        return display.job_cost(job)

    @admin.display(description=_("created"), ordering="created_at")
    def age(self, job: VideoJob):
        return display.age(job.created_at)
