"""What a usage report may be asked for: the one definition of its parameters.

The API's query (``UsageQuerySerializer``), the admin's report form (``UsageReportForm``) and
``videogen_usage_report`` each read their own syntax (a query string, form fields, options)
and hand the values to these rules; ``usage_report`` applies the same ones to what it is
given. Each rule raises ``ReportError`` naming the parameter (``start``, ``end``, ``month``,
``group_by``, ``time_zone``) with a stable code, which each door shows its own way.

- dates: calendar dates between ``REPORT_MIN_DATE`` and ``REPORT_MAX_DATE`` (their day
  boundaries exist in every time zone), the range not ending before it starts;
- ``month``: ``YYYY-MM``, instead of a start and an end;
- ``group_by``: one or more dimensions (each once, in the order given), not day and month
  together; a door may offer fewer (the API's per-workspace report has no ``workspace``);
- ``time_zone``: an IANA name (at most ``MAX_TIME_ZONE_CHARS``), the site's by default, in
  which days and months begin.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from datetime import date, timedelta, tzinfo

from django.utils import timezone
from django.utils.translation import gettext as _

from videogen.hygiene import Problem

DIMENSIONS = ("workspace", "model", "day", "month")
DEFAULT_GROUP_BY = ("model",)
# Dates whose day boundaries exist in every time zone (date.min/max overflow once shifted).
REPORT_MIN_DATE = date(1970, 1, 1)
REPORT_MAX_DATE = date(9998, 12, 31)
MONTH_PATTERN = r"[0-9]{4}-[0-9]{2}"
MAX_TIME_ZONE_CHARS = 64


class ReportError(ValueError):
    """Bad report parameters: ``problems`` maps each parameter to its problems."""

    def __init__(self, problems: dict[str, list[Problem]]):
        self.problems = problems
        super().__init__(" ".join(p.message for found in problems.values() for p in found))

    @classmethod
    def of(cls, parameter: str, code: str, message: str) -> ReportError:
        return cls({parameter: [Problem(code, message)]})


def month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return first, next_month - timedelta(days=1)


def report_time_zone(name: str | None) -> tzinfo:
    """The zone named (the site's when ``name`` is empty)."""
    if not name:
        return timezone.get_current_timezone()
    try:
        if len(name) <= MAX_TIME_ZONE_CHARS:
            return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    raise ReportError.of(
        "time_zone",
        "invalid_time_zone",
        _("Unknown time zone “%(tz)s”; use an IANA name such as Europe/Paris.") % {"tz": name},
    )


def report_month(text: str) -> tuple[date, date]:
    """The first and last day of ``YYYY-MM``."""
    year = month = 0
    if re.fullmatch(MONTH_PATTERN, text):
        year, month = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        raise ReportError.of(
            "month", "invalid", _("Not a month: “%(value)s”; give YYYY-MM.") % {"value": text}
        )
    if not REPORT_MIN_DATE.year <= year <= REPORT_MAX_DATE.year:
        raise ReportError.of("month", "invalid", _bounds_message())
    return month_range(year, month)


def report_dimensions(names: Iterable[str], *, allowed: Iterable[str] = DIMENSIONS) -> tuple:
    """The dimensions to group by, each once, in the order given."""
    dimensions = tuple(dict.fromkeys(names))
    allowed = tuple(allowed)
    unknown = [name for name in dimensions if name not in allowed]
    if unknown or not dimensions:
        message = _("Unknown dimension “%(name)s”: group by one or more of %(allowed)s.")
        if not dimensions:
            message = _("Give what to group by: one or more of %(allowed)s.")
        shown = {"name": unknown[0] if unknown else "", "allowed": ", ".join(allowed)}
        raise ReportError.of("group_by", "invalid", message % shown)
    if "day" in dimensions and "month" in dimensions:
        raise ReportError.of("group_by", "conflict", _("Group by day or by month, not both."))
    return dimensions


def report_period(
    *,
    start: date | None,
    end: date | None,
    month: tuple[date, date] | None = None,
    tz: tzinfo,
) -> tuple[date, date]:
    """The dates a report covers: a ``month`` (from ``report_month``), or ``start`` to
    ``end``. Only ``start``: up to today (or ``start``, if later); neither: this month,
    ``today`` being in ``tz``."""
    if month is not None and (start is not None or end is not None):
        raise ReportError.of("month", "conflict", _("Give month, or start and end, not both."))
    if end is not None and start is None:
        raise ReportError.of("start", "required", _("Give start together with end."))
    today = timezone.localtime(timezone.now(), tz).date()
    if month is not None:
        start, end = month
    elif start is None:
        start, end = month_range(today.year, today.month)
    elif end is None:
        end = max(today, start)
    check_period(start, end)
    return start, end


def check_period(start: date, end: date) -> None:
    """Both dates within the bounds, and the range not ending before it starts."""
    problems = {
        name: [Problem("invalid", _bounds_message())]
        for name, value in (("start", start), ("end", end))
        if not REPORT_MIN_DATE <= value <= REPORT_MAX_DATE
    }
    if not problems and end < start:
        problems["end"] = [Problem("invalid", _("The range ends before it starts."))]
    if problems:
        raise ReportError(problems)


def _bounds_message() -> str:
    return _("The dates must be between %(min)s and %(max)s.") % {
        "min": REPORT_MIN_DATE,
        "max": REPORT_MAX_DATE,
    }
