"""Forms: the admin's usage report page and the workspace pages' "New video" form."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from videogen.models import AspectRatio, Resolution, Workspace
from videogen.selectors import video_models_active
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


_DEFAULT = [("", "(model default)")]


class JobRequestForm(forms.Form):
    """A text-to-video request. Only the shape is checked here; ``job_create`` validates the
    request against the model's capabilities, and ``add_request_errors`` shows its answer."""

    model = forms.ChoiceField(choices=())
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), required=False)
    duration = forms.IntegerField(required=False, min_value=1, help_text="Seconds.")
    resolution = forms.ChoiceField(choices=_DEFAULT + Resolution.choices, required=False)
    aspect_ratio = forms.ChoiceField(choices=_DEFAULT + AspectRatio.choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The active catalog, read once per form (a callable would be re-read per use).
        self.fields["model"].choices = [
            (m.model_id, f"{m.name} ({m.model_id})") for m in video_models_active()
        ]

    def request_data(self) -> dict[str, Any]:
        """The cleaned values as a request body, without the fields left empty."""
        return {k: v for k, v in self.cleaned_data.items() if v is not None and v != ""}

    def add_request_errors(self, error: ValidationError) -> None:
        """Show a service ``ValidationError``: its fields on the form's fields, the rest
        (non-field errors and request fields this form does not have) above the form."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            if field in self.fields:
                self.add_error(field, errors)
            elif field == NON_FIELD_ERRORS:
                self.add_error(None, errors)
            else:
                self.add_error(None, [f"{field}: {m}" for m in ValidationError(errors).messages])
