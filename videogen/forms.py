"""Forms for the admin's usage report page."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.utils import timezone

from videogen.models import Workspace
from videogen.services.reports import DIMENSIONS, month_range


class UsageReportForm(forms.Form):
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Workspace.objects.all(), required=False, help_text="None selected: all."
    )
    start = forms.DateField(required=False, help_text="Default: first day of this month.")
    end = forms.DateField(required=False, help_text="Inclusive. Default: last day of this month.")
    group_by = forms.MultipleChoiceField(
        choices=[(d, d) for d in DIMENSIONS], initial=["model"], required=False
    )
    time_zone = forms.CharField(required=False, help_text="Default: the site's time zone.")

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if not name:
            return None
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise forms.ValidationError(f"Unknown time zone {name!r}.") from err

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        first, last = month_range(today.year, today.month)
        data["start"] = data.get("start") or first
        data["end"] = data.get("end") or last
        data["group_by"] = data.get("group_by") or ["model"]
        if data["end"] < data["start"]:
            self.add_error("end", "The range ends before it starts.")
        if "day" in data["group_by"] and "month" in data["group_by"]:
            self.add_error("group_by", "Group by day or by month, not both.")
        return data
