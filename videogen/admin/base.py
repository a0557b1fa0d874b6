"""What videogen's ModelAdmins share: the text-hygiene rule, read-only records, and lists
that stay fast on tables of millions of rows."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from videogen import hygiene
from videogen.admin.paginator import CappedCountPaginator
from videogen.forms import HygieneJSONField, HygieneModelForm

STYLESHEET = "videogen/admin.css"


class HygieneAdminMixin:
    """The text-hygiene rule in the admin: on every text and JSON field of its forms (a form
    error), and on the changelist's query string (search, filters), whose hostile values would
    otherwise reach SQL: the list is shown again without them, with a message."""

    form = HygieneModelForm
    formfield_overrides = {models.JSONField: {"form_class": HygieneJSONField}}

    def changelist_view(self, request, extra_context=None):
        for key, values in request.GET.lists():
            for text in (key, *values):
                problem = hygiene.text_problem(text, multiline=False, max_length=1000)
                if problem is not None:
                    self.message_user(
                        request,
                        _("Ignored the list's filters: %(name)s: %(problem)s")
                        % {"name": hygiene.printable(key, 50), "problem": problem.message},
                        messages.ERROR,
                    )
                    return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)


class RecordAdminMixin:
    """Records (the ledger, job events, webhook deliveries, a job's outputs): what happened,
    kept as it happened. Nobody adds, changes or deletes them through the admin, superusers
    included; whoever may view them sees them read-only. (Model admins and inlines alike.)"""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RecordInline(RecordAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class ScaledListMixin:
    """A changelist that stays fast on millions of rows: the count stops at 10,000 (and is
    done once, not twice), facet counts are never offered, and the date hierarchy's choices
    come from the column's first and last values (two index lookups), not a ``DISTINCT``
    over the table (``templates/admin/videogen/change_list.html``)."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    class Media:
        css = {"all": [STYLESHEET]}
