import zoneinfo
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_job, make_workspace
from videogen.models import UsageEntry
from videogen.services.money.reports import (
    ReportError,
    report_as_csv,
    report_as_json,
    usage_report,
)

pytestmark = pytest.mark.django_db

UTC = zoneinfo.ZoneInfo("UTC")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def entry(ws, model, cost, when, duration=5):
    job = make_job(ws, model=model, status="completed", duration=duration)
    return UsageEntry.objects.create(
        job=job,
        workspace=ws,
        model=model,
        cost=Decimal(cost) if cost is not None else None,
        duration=duration,
        completed_at=when,
    )


@pytest.fixture
def ledger():
    ws, other = make_workspace("acme"), make_workspace("other")
    entry(ws, "google/veo-3.1", "1.50", datetime(2026, 11, 1, 10, tzinfo=UTC), duration=8)
    entry(ws, "google/veo-3.1", "0.50", datetime(2026, 11, 2, 10, tzinfo=UTC), duration=4)
    entry(ws, "openai/sora-2", "0.40", datetime(2026, 11, 2, 20, tzinfo=UTC), duration=4)
    entry(ws, "openai/sora-2", None, datetime(2026, 11, 3, 9, tzinfo=UTC))  # cost not in yet
    entry(ws, "openai/sora-2", "9.99", datetime(2026, 10, 31, 23, tzinfo=UTC))  # October
    entry(other, "google/veo-3.1", "7.00", datetime(2026, 11, 2, 10, tzinfo=UTC))
    return ws, other


def test_by_model_for_a_month(ledger):
    ws, _ = ledger
    report = usage_report(
        workspace_ids=[ws.pk], start=date(2026, 11, 1), end=date(2026, 11, 30), tz=UTC
    )
    rows = {r.keys["model"]: r for r in report.rows}
    veo, sora = rows["google/veo-3.1"], rows["openai/sora-2"]
    assert (veo.jobs, veo.cost, veo.seconds) == (2, Decimal("2.00"), 12)
    assert veo.cost_per_second == Decimal("0.16666667")
    assert (sora.jobs, sora.priced_jobs, sora.cost, sora.seconds) == (2, 1, Decimal("0.40"), 4)
    assert report.total.cost == Decimal("2.40") and report.total.jobs == 4


def test_by_day_is_time_zone_aware(ledger):
    ws, _ = ledger
    utc = usage_report(
        workspace_ids=[ws.pk],
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        group_by=["day"],
        tz=UTC,
    )
    assert [(r.keys["day"], r.cost) for r in utc.rows] == [
        (date(2026, 11, 1), Decimal("1.50")),
        (date(2026, 11, 2), Decimal("0.90")),
        (date(2026, 11, 3), Decimal("0")),
    ]
    # In Tokyo (UTC+9) the October 31 23:00 UTC entry is November 1, and 20:00 UTC is the 3rd.
    tokyo = usage_report(
        workspace_ids=[ws.pk],
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        group_by=["day"],
        tz=TOKYO,
    )
    assert [(r.keys["day"], r.cost) for r in tokyo.rows][:3] == [
        (date(2026, 11, 1), Decimal("11.49")),
        (date(2026, 11, 2), Decimal("0.50")),
        (date(2026, 11, 3), Decimal("0.40")),
    ]


def test_by_workspace_and_month_over_a_range(ledger):
    report = usage_report(
        workspace_ids=None,
        start=date(2026, 10, 1),
        end=date(2026, 11, 30),
        group_by=["workspace", "month"],
        tz=UTC,
    )
    assert [(r.keys["workspace"], r.keys["month"], r.cost) for r in report.rows] == [
        ("acme", date(2026, 10, 1), Decimal("9.99")),
        ("acme", date(2026, 11, 1), Decimal("2.40")),
        ("other", date(2026, 11, 1), Decimal("7.00")),
    ]


def test_the_database_does_the_sums_in_one_query(ledger):
    ws, _ = ledger
    with CaptureQueriesContext(connection) as queries:
        usage_report(
            workspace_ids=[ws.pk],
            start=date(2026, 11, 1),
            end=date(2026, 11, 30),
            group_by=["model", "day"],
            tz=UTC,
        )
    assert len(queries) == 1


def test_csv_and_json_keep_money_exact(ledger):
    ws, _ = ledger
    report = usage_report(
        workspace_ids=[ws.pk], start=date(2026, 11, 1), end=date(2026, 11, 30), tz=UTC
    )
    data = report_as_json(report)
    assert data["total"]["cost"] == "2.40000000" and data["currency"] == "USD"
    assert data["rows"][0]["model"] == "google/veo-3.1" and data["rows"][0]["cost"] == "2.00000000"
    csv_text = report_as_csv(report)
    assert (
        csv_text.splitlines()[0]
        == "model,jobs,priced_jobs,cost,seconds,average_cost,cost_per_second"
    )
    assert "google/veo-3.1,2,2,2.00000000,12,1.00000000,0.16666667" in csv_text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_by": ["colour"]}, "group by"),
        ({"group_by": ["day", "month"]}, "not both"),
        ({"start": date(2026, 12, 1), "end": date(2026, 11, 1)}, "before it starts"),
    ],
)
def test_bad_parameters_are_report_errors(kwargs, message):
    params = {
        "workspace_ids": None,
        "start": date(2026, 11, 1),
        "end": date(2026, 11, 30),
        **kwargs,
    }
    with pytest.raises(ReportError, match=message):
        usage_report(**params)
