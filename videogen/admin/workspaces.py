"""Workspaces in the admin: members and their roles, the budget and its policy, and this
month's spend against the budget."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from videogen.admin import display
from videogen.admin.base import STYLESHEET, HygieneAdminMixin
from videogen.forms import HygieneModelForm
from videogen.models import Workspace, WorkspaceMembership
from videogen.services.money.budgets import workspace_month_spend, workspaces_with_month_spend
from videogen.services.money.display import money


class WorkspaceForm(HygieneModelForm):
    """The budget shown as money is written (``500.00``), not as stored (``500.00000000``)."""

    class Meta:
        model = Workspace
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        budget = self.initial.get("monthly_budget")
        if budget is not None:
            self.initial["monthly_budget"] = money(budget, "")


class WorkspaceMembershipInline(HygieneAdminMixin, admin.TabularInline):
    model = WorkspaceMembership
    verbose_name = _("member")
    verbose_name_plural = _("members")
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Workspace)
class WorkspaceAdmin(HygieneAdminMixin, admin.ModelAdmin):
    form = WorkspaceForm
    list_display = [
        "name",
        "slug",
        "member_count",
        "budget",
        "budget_policy",
        "spend_this_month",
        "report",
    ]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WorkspaceMembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "created_at"]}),
        (
            _("Budget"),
            {"fields": ["monthly_budget", "budget_policy", "month_to_date", "report"]},
        ),
    ]
    readonly_fields = ["created_at", "month_to_date", "report"]

    class Media:
        css = {"all": [STYLESHEET]}

    def get_queryset(self, request):
        members = (
            WorkspaceMembership.objects.filter(workspace=OuterRef("pk"))
            .order_by()
            .values("workspace")
            .annotate(n=Count("*"))
            .values("n")
        )
        return workspaces_with_month_spend(super().get_queryset(request)).annotate(
            members_total=Subquery(members)
        )

    @admin.display(description=_("members"))
    def member_count(self, workspace: Workspace):
        return workspace.members_total or 0

    @admin.display(description=_("monthly budget"), ordering="monthly_budget")
    def budget(self, workspace: Workspace):
        if workspace.monthly_budget is None:
            return display.EMPTY
        return money(workspace.monthly_budget)

    @admin.display(description=_("spent this month"), ordering="month_spent")
    def spend_this_month(self, workspace: Workspace):
        return display.spend_bar(workspace.month_spent, workspace.monthly_budget)

    @admin.display(description=_("this month"))
    def month_to_date(self, workspace: Workspace):
        if workspace.pk is None:
            return display.EMPTY
        spent, in_flight = workspace_month_spend(workspace_id=workspace.pk)
        bar = display.spend_bar(spent, workspace.monthly_budget, committed=spent + in_flight)
        if not in_flight:
            return bar
        return format_html(
            '{}<br><span class="vg-quiet">{}</span>',
            bar,
            _("plus %(amount)s estimated for jobs still running or awaiting their cost")
            % {"amount": money(in_flight)},
        )

    @admin.display(description=_("usage"))
    def report(self, workspace: Workspace):
        if workspace.pk is None:
            return display.EMPTY
        url = reverse("admin:videogen_usageentry_report")
        return format_html(
            '<a href="{}?workspaces={}&amp;group_by=day&amp;group_by=model">{}</a>',
            url,
            workspace.pk,
            _("Usage report"),
        )
