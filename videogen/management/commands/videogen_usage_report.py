import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from videogen.management.arguments import clean_argument
from videogen.models import Workspace
from videogen.services.money.report_parameters import (
    DEFAULT_GROUP_BY,
    DIMENSIONS,
    ReportError,
    report_month,
    report_period,
    report_time_zone,
)
from videogen.services.money.reports import report_as_csv, report_as_json, usage_report

# The options' names of the report parameters (services.money.report_parameters).
OPTIONS = {"group_by": "--by", "time_zone": "--tz"}


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from err


def _option_errors(err: ReportError) -> str:
    return " ".join(
        f"{OPTIONS.get(name, '--' + name)}: {problem.message}"
        for name, problems in err.problems.items()
        for problem in problems
    )


class Command(BaseCommand):
    help = "Spend per workspace by model, day or month, from the ledger (table, CSV or JSON)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workspace", action="append", help="Workspace slug (repeatable; default all)."
        )
        parser.add_argument("--month", help="YYYY-MM (default: this month).")
        parser.add_argument(
            "--start", help="First day, YYYY-MM-DD (with --end instead of --month)."
        )
        parser.add_argument("--end", help="Last day, YYYY-MM-DD (inclusive).")
        parser.add_argument(
            "--by",
            default=",".join(DEFAULT_GROUP_BY),
            help=f"Comma-separated: {', '.join(DIMENSIONS)}.",
        )
        parser.add_argument("--tz", help="Time zone for days and months (default: the site's).")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(self, *args, **opts):
        for option in ("month", "start", "end", "by", "tz"):
            if opts[option] is not None:
                clean_argument(opts[option], option=f"--{option}", max_length=100)
        for slug in opts["workspace"] or ():
            clean_argument(slug, option="--workspace", max_length=100)
        try:
            tz = report_time_zone(opts["tz"])
            start, end = self._period(opts, tz)
            ids = self._workspace_ids(opts["workspace"])
            report = usage_report(
                workspace_ids=ids,
                start=start,
                end=end,
                group_by=[d.strip() for d in opts["by"].split(",") if d.strip()],
                tz=tz,
            )
        except ReportError as err:
            raise CommandError(_option_errors(err)) from err
        if opts["format"] == "csv":
            self.stdout.write(report_as_csv(report), ending="")
        elif opts["format"] == "json":
            self.stdout.write(json.dumps(report_as_json(report), indent=2))
        else:
            self._table(report_as_json(report))

    def _period(self, opts, tz) -> tuple[date, date]:
        # The options' own syntax: --start and --end go together, instead of --month.
        if opts["start"] or opts["end"]:
            if opts["month"] or not (opts["start"] and opts["end"]):
                raise CommandError("Give --month, or both --start and --end.")
            return report_period(start=_date(opts["start"]), end=_date(opts["end"]), tz=tz)
        month = report_month(opts["month"]) if opts["month"] else None
        return report_period(start=None, end=None, month=month, tz=tz)

    def _workspace_ids(self, slugs: list[str] | None) -> list[int] | None:
        if not slugs:
            return None
        found = dict(Workspace.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        unknown = sorted(set(slugs) - set(found))
        if unknown:
            raise CommandError(f"Unknown workspace(s): {', '.join(unknown)}.")
        return list(found.values())

    def _table(self, data):
        columns = [*data["group_by"], "jobs", "cost", "seconds", "cost_per_second"]
        rows = [
            [str(row.get(c) if row.get(c) is not None else "-") for c in columns]
            for row in data["rows"]
        ]
        total = ["TOTAL", *[""] * (len(data["group_by"]) - 1)]
        rows.append(
            [*total, *(str(data["total"].get(c) or "-") for c in columns[len(data["group_by"]) :])]
        )
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        self.stdout.write(f"Usage {data['start']} to {data['end']} ({data['time_zone']}, USD)")
        self.stdout.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        for row in rows:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
