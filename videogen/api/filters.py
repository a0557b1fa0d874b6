"""Filtering and ordering of job lists."""

from __future__ import annotations

import django_filters
from rest_framework.filters import OrderingFilter

from videogen.models import JobStatus, VideoJob


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=JobStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    model = django_filters.CharFilter(field_name="model", help_text="Provider model id.")
    workspace = django_filters.CharFilter(
        field_name="workspace__slug", help_text="Slug of one of your workspaces."
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )

    class Meta:
        model = VideoJob
        fields = ["status", "model", "workspace", "created_after", "created_before"]


class JobOrderingFilter(OrderingFilter):
    """``?ordering=`` on a few non-null, indexed-enough timestamps, ties broken by id.

    Cursor pagination needs an unchanging first key and no lookups across relations, so the
    choice is limited to ``created_at`` and ``updated_at`` (either direction).
    """

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ordering
