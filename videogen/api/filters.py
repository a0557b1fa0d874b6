"""Filtering, search and ordering of job lists.

Every value is validated before it reaches SQL (a 400 naming the parameter otherwise): the
text-hygiene rule runs on every parameter first (``VideogenAPIMixin.initial``); here, lengths
are bounded by the columns they are compared with, timestamps are turned into UTC (so no
offset the database refuses and no date beyond its range gets through), orderings are the
documented ones, and an empty value (``?status=``) means "no filter".
"""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.fields import IsoDateTimeField, MultipleChoiceField
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter

from videogen.models import JobStatus, VideoJob, Workspace

# Longest ``search`` value: words of a prompt, not a prompt.
MAX_SEARCH_CHARS = 200


class OptionalMultipleChoiceField(MultipleChoiceField):
    """Empty values are dropped: ``?status=`` is no filter, ``?status=queued&status=`` one."""

    def clean(self, value):
        if isinstance(value, list | tuple):
            value = [item for item in value if item not in ("", None)]
        return super().clean(value)


class OptionalMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = OptionalMultipleChoiceField


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 timestamp, as UTC: any offset the parser accepts (up to ±23:59) is valid,
    and one that moves the instant outside the calendar is a form error, not an overflow."""

    default_error_messages = {"out_of_range": gettext_lazy("This timestamp is out of range.")}

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class JobFilter(django_filters.FilterSet):
    status = OptionalMultipleChoiceFilter(
        choices=JobStatus.choices,
        # A job has one status: no duplicates to remove, and a DISTINCT would make PostgreSQL
        # read and sort every matching job for a page of 25.
        distinct=False,
        help_text="One or more statuses (repeat the parameter).",
    )
    model = django_filters.CharFilter(
        field_name="model",
        max_length=VideoJob._meta.get_field("model").max_length,
        help_text="Provider model id.",
    )
    workspace = django_filters.CharFilter(
        method="filter_workspace",
        max_length=Workspace._meta.get_field("slug").max_length,
        help_text="Slug of one of your workspaces.",
    )
    created_after = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )

    class Meta:
        model = VideoJob
        fields = ["status", "model", "workspace", "created_after", "created_before"]

    def filter_workspace(self, queryset, name, value):
        # ``workspace_id = (SELECT id … WHERE slug = …)``: one value, so PostgreSQL walks the
        # (workspace, created_at) index in order; a join on the slug would make it sort.
        by_slug = Workspace.objects.filter(slug=value).order_by().values("pk")[:1]
        return queryset.filter(workspace_id=Subquery(by_slug))


class JobSearchFilter(SearchFilter):
    """``?search=`` on the prompt, at most ``MAX_SEARCH_CHARS`` characters."""

    def get_search_terms(self, request):
        value = request.query_params.get(self.search_param, "")
        if len(value) > MAX_SEARCH_CHARS:
            message = _("Ensure this value has at most %(limit)s characters (it has %(n)s).")
            raise ValidationError(
                {
                    self.search_param: [
                        ErrorDetail(
                            message % {"limit": MAX_SEARCH_CHARS, "n": len(value)},
                            code="max_length",
                        )
                    ]
                }
            )
        return super().get_search_terms(request)


class JobOrderingFilter(OrderingFilter):
    """``?ordering=`` on a few non-null, indexed-enough timestamps, ties broken by id.

    Cursor pagination needs an unchanging first key and no lookups across relations, so the
    choice is limited to ``created_at`` and ``updated_at`` (either direction); anything else
    is a 400 (``invalid_choice``), as the schema's enum says.
    """

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        if len(valid) != len(fields):
            allowed = [
                f"{sign}{name}"
                for name, _label in self.get_valid_fields(queryset, view, {})
                for sign in ("", "-")
            ]
            message = _("Order by one of: %(allowed)s.") % {"allowed": ", ".join(allowed)}
            raise ValidationError(
                {self.ordering_param: [ErrorDetail(message, code="invalid_choice")]}
            )
        return valid

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ordering
