import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_job, make_workspace
from videogen.models import UsageEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    ws = make_workspace("acme")
    for model, cost, day in [("a/one", "1.25", 2), ("a/one", "0.75", 3), ("b/two", "2.00", 3)]:
        job = make_job(ws, model=model, status="completed", duration=5)
        UsageEntry.objects.create(
            job=job,
            workspace=ws,
            model=model,
            cost=Decimal(cost),
            duration=5,
            completed_at=datetime(2026, 11, day, 12, tzinfo=ZoneInfo("UTC")),
        )
    return ws


def run(*args) -> str:
    out = io.StringIO()
    call_command("videogen_usage_report", *args, stdout=out)
    return out.getvalue()


def test_table_for_a_month(ledger):
    text = run("--workspace", "acme", "--month", "2026-11")
    assert "a/one" in text and "b/two" in text
    assert "TOTAL" in text and "4.00000000" in text


def test_csv_by_day(ledger):
    rows = list(
        csv.DictReader(io.StringIO(run("--month", "2026-11", "--by", "day", "--format", "csv")))
    )
    assert [(r["day"], r["cost"]) for r in rows] == [
        ("2026-11-02", "1.25000000"),
        ("2026-11-03", "2.75000000"),
    ]


def test_json_by_workspace_and_model_over_a_range(ledger):
    data = json.loads(
        run(
            "--start",
            "2026-11-01",
            "--end",
            "2026-11-02",
            "--by",
            "workspace,model",
            "--format",
            "json",
        )
    )
    assert data["rows"] == [
        {
            "workspace": "acme",
            "model": "a/one",
            "jobs": 1,
            "priced_jobs": 1,
            "cost": "1.25000000",
            "seconds": 5,
            "average_cost": "1.25000000",
            "cost_per_second": "0.25000000",
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "november"], "--month"),
        (["--start", "2026-11-01"], "both --start and --end"),
        (["--start", "2026-13-01", "--end", "2026-12-01"], "not a date"),
        (["--by", "colour"], "group by"),
        (["--tz", "Mars/Olympus"], "time zone"),
        (["--workspace", "nope"], "Unknown workspace"),
        (["--start", "2026-11-05", "--end", "2026-11-01"], "before it starts"),
    ],
)
def test_bad_input_is_a_command_error(ledger, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "acme\udcff"], "--workspace: .*invalid_characters"),  # was a traceback
        (["--tz", "Europe/Paris\x07"], "--tz: .*control_characters"),
        (["--tz", "x" * 90], "Unknown time zone"),
        (["--by", "model\udcff"], "--by: .*invalid_characters"),
        (["--start", "0001-01-01", "--end", "0001-01-31"], "dates must be between"),
        (["--month", "0001-01"], "dates must be between"),
    ],
)
def test_hostile_arguments_are_command_errors(ledger, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("videogen_usage_report", *args, stdout=StringIO())
