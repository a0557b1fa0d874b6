"""Forms: the admin's usage report page and forms, the workspace pages' "New video" form.

Every form here applies the text-hygiene rule (``videogen.hygiene``) to its text and JSON
fields: a hostile value is a form error with the rule's code, never a 500 or a stored value.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils import timezone

from videogen import hygiene
from videogen.models import Workspace
from videogen.selectors import video_models_active
from videogen.services.jobs import request as schema
from videogen.services.money.reports import (
    DIMENSIONS,
    REPORT_MAX_DATE,
    REPORT_MIN_DATE,
    month_range,
)


class HygieneValidator:
    """The hygiene rule as a form field validator (single-line unless ``multiline``)."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if isinstance(value, str) and (
            problem := hygiene.text_problem(value, multiline=self.multiline)
        ):
            raise ValidationError(problem.message, code=problem.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HygieneValidator) and other.multiline == self.multiline


class HygieneJSONField(forms.JSONField):
    """A JSON form field parsed by ``hygiene.loads`` (depth checked before parsing) whose
    keys and strings pass the hygiene rule; a refused value is shown back as typed."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = hygiene.loads(value, parse_float=float)
        except hygiene.HostileInput as err:
            raise ValidationError(err.message, code=err.code) from None
        except ValueError:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None
        if found := hygiene.first_json_problem(converted):
            path, problem = found
            message = f"{path}: {problem.message}" if path else problem.message
            raise ValidationError(message, code=problem.code)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return self.to_python(data)
        except ValidationError:
            return InvalidJSONInput(data)


class HygieneFormMixin:
    """Puts the hygiene rule on every text field of the form (a ``Textarea`` may span
    lines); it replaces Django's own NUL check, so a NUL is reported once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and not isinstance(field, forms.JSONField):
                multiline = isinstance(field.widget, forms.Textarea)
                field.validators = [
                    v
                    for v in field.validators
                    if not isinstance(v, ProhibitNullCharactersValidator)
                ]
                field.validators.append(HygieneValidator(multiline=multiline))


class HygieneModelForm(HygieneFormMixin, forms.ModelForm):
    """The admin's model forms (see ``admin.HygieneAdminMixin``)."""


_INTEGER = re.compile(r"-?[0-9]+")


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Primary keys beyond a 64-bit integer are invalid choices, not a database overflow."""

    def _check_values(self, value):
        for pk in value:
            text = pk.strip() if isinstance(pk, str) else ""
            if _INTEGER.fullmatch(text) and not (
                len(text) <= 20 and hygiene.MIN_INT <= int(text) <= hygiene.MAX_INT
            ):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class UsageReportForm(HygieneFormMixin, forms.Form):
    workspaces = BoundedModelMultipleChoiceField(
        queryset=Workspace.objects.all(), required=False, help_text="None selected: all."
    )
    start = forms.DateField(required=False, help_text="Default: first day of this month.")
    end = forms.DateField(required=False, help_text="Inclusive. Default: last day of this month.")
    group_by = forms.MultipleChoiceField(
        choices=[(d, d) for d in DIMENSIONS], initial=["model"], required=False
    )
    time_zone = forms.CharField(
        required=False, max_length=64, help_text="Default: the site's time zone."
    )

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if not name:
            return None
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as err:
            raise forms.ValidationError(f"Unknown time zone {name!r}.") from err

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        first, last = month_range(today.year, today.month)
        data["start"] = data.get("start") or first
        data["end"] = data.get("end") or last
        data["group_by"] = data.get("group_by") or ["model"]
        outside = [n for n in ("start", "end") if not REPORT_MIN_DATE <= data[n] <= REPORT_MAX_DATE]
        for name in outside:
            self.add_error(name, f"Dates must be between {REPORT_MIN_DATE} and {REPORT_MAX_DATE}.")
        if not outside and data["end"] < data["start"]:
            self.add_error("end", "The range ends before it starts.")
        if "day" in data["group_by"] and "month" in data["group_by"]:
            self.add_error("group_by", "Group by day or by month, not both.")
        return data


_DEFAULT = [("", "(model default)")]


def request_form_field(field: schema.RequestField) -> forms.Field:
    """The "New video" form's field for one request field: type, choices and limits from the
    request schema. Only the shape is checked by the field; the schema's validation runs in
    ``JobRequestForm.clean``."""
    match field:
        case schema.ModelField():
            return forms.ChoiceField(choices=())  # the active catalog, set per form
        case schema.TextField(multiline=True):
            return forms.CharField(
                widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
                required=False,
                max_length=field.max_length,
            )
        case schema.IntegerField():
            return forms.IntegerField(
                required=False,
                min_value=field.min_value,
                max_value=field.max_value,
                help_text=field.help_text,
            )
        case schema.ChoiceField():
            return forms.ChoiceField(choices=_DEFAULT + field.choices_enum.choices, required=False)
    raise TypeError(f"the pages' form has no field for {type(field).__name__}")


def _form_field(name: str) -> forms.Field:
    return request_form_field(schema.FIELDS_BY_NAME[name])


class JobRequestForm(HygieneFormMixin, forms.Form):
    """A text-to-video request: some of the request schema's fields, checked by the schema.

    The fields check their shape; ``clean`` then runs ``validate_job_request`` (the model's
    capabilities, every rule of the API), showing its errors on the form's fields (or above
    it, for fields the form lacks). ``request_data()`` is then the validated ``JobRequest``,
    which ``job_create`` does not validate again. ``services.jobs.request.request_choices``
    says what a chosen model offers per field.
    """

    model = _form_field("model")
    prompt = _form_field("prompt")
    duration = _form_field("duration")
    resolution = _form_field("resolution")
    aspect_ratio = _form_field("aspect_ratio")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.job_request: schema.JobRequest | None = None
        # The active catalog, read once per form (a callable would be re-read per use).
        self.fields["model"].choices = [
            (m.model_id, f"{m.name} ({m.model_id})") for m in video_models_active()
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:  # each field's own shape first, as the user typed it
            try:
                self.job_request = schema.validate_job_request(self._request_body())
            except ValidationError as err:
                self.add_request_errors(err)
        return cleaned

    def _request_body(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v is not None and v != ""}

    def request_data(self) -> dict[str, Any]:
        """The request to create: the validated ``JobRequest`` of a valid form, else the
        cleaned values as a request body, without the fields left empty."""
        return self.job_request if self.job_request is not None else self._request_body()

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


class SpendMonthForm(HygieneFormMixin, forms.Form):
    """The spend page's month picker (``?month=YYYY-MM``, this month when empty) and its CSV
    switch (``?format=csv``)."""

    month = forms.CharField(
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text="Year and month, e.g. 2025-06.",
    )
    format = forms.ChoiceField(
        required=False, choices=[("", "page"), ("html", "page"), ("csv", "CSV")]
    )

    def clean_month(self) -> tuple[int, int] | None:
        text = self.cleaned_data["month"].strip()
        if not text:
            return None
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text)
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValidationError("Give a month as YYYY-MM, e.g. 2025-06.", code="invalid")
        year, month = int(match[1]), int(match[2])
        if not REPORT_MIN_DATE.year <= year <= REPORT_MAX_DATE.year:
            raise ValidationError(
                f"Months from {REPORT_MIN_DATE.year} to {REPORT_MAX_DATE.year} only.",
                code="out_of_range",
            )
        return year, month
