"""The usage report page (admin: Usage entries → Usage report): spend by workspace, model,
day or month from the ledger (``services.money.reports``, as the API and the command), with
a chart of spend per day stacked by model and the table as CSV."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from videogen.charts import chart_period, spend_chart
from videogen.forms import UsageReportForm
from videogen.models import UsageEntry
from videogen.services.money.display import money
from videogen.services.money.report_parameters import month_range
from videogen.services.money.reports import report_as_csv, report_as_json, usage_report

# The table's columns: (key in the report's rows and CSV, heading, kind).
COLUMNS = {
    "workspace": (_("Workspace"), "text"),
    "model": (_("Model"), "text"),
    "day": (_("Day"), "text"),
    "month": (_("Month"), "text"),
    "jobs": (_("Jobs"), "number"),
    "priced_jobs": (_("Priced jobs"), "number"),
    "cost": (_("Cost"), "money"),
    "seconds": (_("Seconds of video"), "number"),
    "average_cost": (_("Average per job"), "rate"),
    "cost_per_second": (_("Per second of video"), "rate"),
}
# Averages are quotients: shown to 4 places in every row (a price per second can be 0.0035).
RATE_PLACES = Decimal("0.0001")
MEASURES = ["jobs", "priced_jobs", "cost", "seconds", "average_cost", "cost_per_second"]


class WorkspaceAutocomplete(AutocompleteSelectMultiple):
    """The admin's autocomplete, rendering only the chosen values that can be workspace ids
    (a hostile value is the form's error to report, not a crash while drawing the form)."""

    def optgroups(self, name, value, attrs=None):
        return super().optgroups(name, [v for v in value if _is_id(v)], attrs)


def _is_id(value) -> bool:
    text = str(value).strip()
    return text.isdigit() and len(text) <= 18


class AdminUsageReportForm(UsageReportForm):
    """The report's parameters (checked by ``UsageReportForm``) with the admin's widgets:
    date pickers, and workspaces chosen by typing (an autocomplete, for any number)."""

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["start"].widget = AdminDateWidget()
        fields["start"].label = _("From")
        fields["end"].widget = AdminDateWidget()
        fields["end"].label = _("To (inclusive)")
        workspaces = fields["workspaces"]
        workspaces.widget = WorkspaceAutocomplete(
            UsageEntry._meta.get_field("workspace"), admin_site
        )
        workspaces.widget.choices = workspaces.choices
        fields["workspaces"].help_text = _("None chosen: every workspace. Type to search.")
        fields["group_by"].choices = [
            (key, COLUMNS[key][0]) for key in ("workspace", "model", "day", "month")
        ]
        fields["group_by"].widget = forms.CheckboxSelectMultiple(choices=fields["group_by"].choices)
        fields["time_zone"].widget.attrs["placeholder"] = timezone.get_default_timezone_name()


def _cell(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "money":
        return money(value, "")
    if kind == "rate":  # a column of quotients, all to the same places
        return f"{Decimal(value).quantize(RATE_PLACES, rounding=ROUND_HALF_UP):f}"
    if kind == "number":
        return f"{value:,}"
    return str(value)


def _table(data: dict) -> dict:
    dims = data["group_by"]
    keys = [*dims, *MEASURES]
    return {
        "headings": [(COLUMNS[k][0], COLUMNS[k][1]) for k in keys],
        "rows": [
            [(_cell(row.get(k), COLUMNS[k][1]), COLUMNS[k][1]) for k in keys]
            for row in data["rows"]
        ],
        "total": [("Total" if i == 0 else "", "text") for i in range(len(dims))]
        + [(_cell(data["total"].get(k), COLUMNS[k][1]), COLUMNS[k][1]) for k in MEASURES],
    }


def usage_report_view(model_admin, request):
    """The page; ``?format=csv`` downloads the table shown (same rows and columns)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    params = request.GET or _this_month_by_model()
    form = AdminUsageReportForm(params, admin_site=model_admin.admin_site)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Usage report"),
        "form": form,
        "media": model_admin.media + form.media,
    }
    if form.is_valid():
        data = form.cleaned_data
        workspace_ids = [w.pk for w in data["workspaces"]] or None
        report = usage_report(
            workspace_ids=workspace_ids,
            start=data["start"],
            end=data["end"],
            group_by=data["group_by"],
            tz=data["time_zone"],
        )
        if request.GET.get("format") == "csv":
            response = HttpResponse(report_as_csv(report), content_type="text/csv")
            response["Content-Disposition"] = (
                f'attachment; filename="usage-{report.start}-{report.end}.csv"'
            )
            return response
        period = chart_period(report.start, report.end)
        chart = None
        if period is not None:
            by_period = usage_report(
                workspace_ids=workspace_ids,
                start=data["start"],
                end=data["end"],
                group_by=(period, "model"),
                tz=data["time_zone"],
            )
            chart = spend_chart(by_period, period)
        json_data = report_as_json(report)
        query = params.copy()
        query["format"] = "csv"
        context.update(
            report=json_data,
            subtitle=f"{report.start} – {report.end} · {report.time_zone} · USD",
            table=_table(json_data),
            chart=chart,
            chart_too_long=period is None,
            csv_query=query.urlencode(),
        )
    return TemplateResponse(request, "admin/videogen/usageentry/report.html", context)


def _this_month_by_model() -> QueryDict:
    """What the page shows on a first visit, without a click."""
    today = timezone.localdate()
    first, last = month_range(today.year, today.month)
    query = QueryDict(mutable=True)
    query.update({"start": first.isoformat(), "end": last.isoformat(), "group_by": "model"})
    return query
