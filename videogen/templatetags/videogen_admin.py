"""``{% load videogen_admin %}``: the admin's overview panel, a date hierarchy that never
scans a big table, and counts of capped lists."""

from __future__ import annotations

import calendar
import datetime

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db.models import Max, Min
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from videogen.admin import display
from videogen.models import JobStatus
from videogen.services.money.display import money
from videogen.services.overview import staff_overview

register = template.Library()


# --- the admin index's overview ------------------------------------------------------------


@register.inclusion_tag("admin/videogen/overview.html", takes_context=True)
def videogen_overview(context):
    """Spend this month, this month's jobs by status and the jobs needing attention, each
    linking to where staff act on it; shown to staff who may view jobs or the ledger."""
    request = context.get("request")
    user = getattr(request, "user", None)
    can_jobs = bool(user and user.has_perm("videogen.view_videojob"))
    can_ledger = bool(user and user.has_perm("videogen.view_usageentry"))
    if not (can_jobs or can_ledger):
        return {"show": False}
    overview = staff_overview()
    start = timezone.localtime(overview.month_start)
    jobs_url = reverse("admin:videogen_videojob_changelist")
    month = f"created_at__year={start.year}&created_at__month={start.month}"
    statuses = [
        {
            "badge": display.status_badge(status),
            "count": f"{count:,}",
            "url": f"{jobs_url}?status__exact={status}&{month}",
        }
        for status, count in overview.jobs_by_status.items()
        if count or status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.UNKNOWN)
    ]
    return {
        "show": True,
        "can_jobs": can_jobs,
        "can_ledger": can_ledger,
        "month": formats.date_format(start, "YEAR_MONTH_FORMAT"),
        "spend": money(overview.spend),
        "priced_jobs": ngettext("%(n)s priced job", "%(n)s priced jobs", overview.priced_jobs)
        % {"n": f"{overview.priced_jobs:,}"},
        "report_url": reverse("admin:videogen_usageentry_report"),
        "jobs_total": f"{overview.jobs:,}",
        "jobs_url": f"{jobs_url}?{month}",
        "statuses": statuses,
        "attention": overview.needing_attention,
        "attention_url": f"{jobs_url}?attention=yes",
    }


# --- lists over big tables -----------------------------------------------------------------


@register.simple_tag
def videogen_result_count(cl) -> str:
    """ "1,234 jobs", or "more than 10,000 jobs" when the list's count stopped at its cap."""
    paginator = getattr(cl, "paginator", None)
    name = cl.opts.verbose_name if cl.result_count == 1 else cl.opts.verbose_name_plural
    if getattr(paginator, "capped", False):
        return _("more than %(cap)s %(name)s") % {"cap": f"{paginator.cap:,}", "name": name}
    return f"{cl.result_count:,} {name}"


def _bounds(cl) -> tuple[datetime.date, datetime.date] | None:
    """The first and last dates of the whole table: two index lookups (``MIN``/``MAX`` of an
    indexed column), whatever filters the list has."""
    field = cl.date_hierarchy
    found = cl.model._default_manager.order_by().aggregate(first=Min(field), last=Max(field))
    if found["first"] is None:
        return None
    first, last = found["first"], found["last"]
    if isinstance(first, datetime.datetime):
        first, last = timezone.localtime(first).date(), timezone.localtime(last).date()
    return first, last


def bounded_date_hierarchy(cl):
    """Django's date hierarchy, its choices drawn from the calendar between the table's
    first and last dates instead of a ``SELECT DISTINCT date_trunc(…)`` over the (filtered)
    table, which sorts millions of rows. A period may therefore hold no rows."""
    if not cl.date_hierarchy:
        return {"show": False}
    field = cl.date_hierarchy
    year_field, month_field, day_field = f"{field}__year", f"{field}__month", f"{field}__day"
    year, month, day = (cl.params.get(f) for f in (year_field, month_field, day_field))
    bounds = _bounds(cl)
    if bounds is None:
        return {"show": False}
    first, last = bounds

    def link(filters):
        return cl.get_query_string(filters, [f"{field}__"])

    if not (year or month or day) and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    try:
        year = int(year) if year else None
        month = int(month) if month else None
        day = int(day) if day else None
    except ValueError:
        return {"show": False}
    if year and month and day:
        chosen = datetime.date(year, month, day)
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if year and month:
        days = range(1, calendar.monthrange(year, month)[1] + 1)
        dates = [datetime.date(year, month, d) for d in days]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in dates
                if first <= d <= last
            ],
        }
    if year:
        months = [datetime.date(year, m, 1) for m in range(1, 13)]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in months
                if (first.year, first.month) <= (m.year, m.month) <= (last.year, last.month)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


@register.tag(name="bounded_date_hierarchy")
def bounded_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=bounded_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
