"""The usage report page: titled, the admin's date pickers, readable columns, money shown by
the display rule, a chart of spend per day stacked by model, and the table as CSV."""

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_job, make_ledger_entry, make_workspace

pytestmark = pytest.mark.django_db

REPORT = "admin:videogen_usageentry_report"


@pytest.fixture
def ledger():
    """Three days of spend on two models in one workspace, one row in another workspace."""
    studio, other = make_workspace("studio"), make_workspace("other")
    start = timezone.make_aware(datetime(2026, 3, 1, 12))
    for day, model, cost in [
        (0, "google/veo-3.1", "1.5"),
        (0, "openai/sora-2", "0.5"),
        (1, "google/veo-3.1", "2"),
        (2, "openai/sora-2", "1"),
    ]:
        job = make_job(studio, model=model, status="completed", duration=5)
        make_ledger_entry(job, cost=cost, completed_at=start + timedelta(days=day))
    job = make_job(other, model="openai/sora-2", status="completed", duration=3)
    make_ledger_entry(job, cost="0.333333", completed_at=start)
    return studio, other


def report(client, **params):
    response = client.get(reverse(REPORT), {"start": "2026-03-01", "end": "2026-03-31", **params})
    assert response.status_code == 200
    return response


def test_the_report_is_titled_readable_and_shows_money_by_the_display_rule(admin_client, ledger):
    page = report(admin_client, group_by=["model"]).content.decode()
    assert "<h1>Usage report</h1>" in page
    for heading in ("Model", "Jobs", "Priced jobs", "Cost", "Seconds of video", "Average per job"):
        assert f">{heading}</th>" in page
    assert "AVERAGE_COST" not in page and "average_cost" not in page
    assert ">3.50</td>" in page  # google/veo-3.1: 1.5 + 2
    assert ">0.6111</td>" in page and ">1.7500</td>" in page  # averages: 4 places
    assert "0.00000000" not in page and "1.83333300" not in page
    assert 'class="vDateField' in page  # the admin's own date pickers


def test_the_first_visit_shows_this_month_by_model(admin_client):
    job = make_job(status="completed")
    make_ledger_entry(job, cost="4")
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "google/veo-3.1" in page and ">4.00</td>" in page


def test_the_chart_stacks_each_days_spend_by_model(admin_client, ledger):
    response = report(admin_client, group_by=["model"])
    page = response.content.decode()
    chart = response.context["chart"]
    assert chart.period == "day" and len(chart.x_labels) <= 12
    bars = re.findall(r'<rect class="vg-series-(\d)" [^>]*><title>([^<]*)</title>', page)
    assert ("0", "Mar 1, google/veo-3.1: 1.50 USD") in bars
    assert ("1", "Mar 1, openai/sora-2: 0.833333 USD") in bars  # both workspaces
    assert len(bars) == 4
    assert 'google/veo-3.1 <span class="vg-quiet">3.50 USD</span>' in page  # the legend


def test_a_long_range_is_charted_by_month(admin_client, ledger):
    response = report(admin_client, start="2025-01-01", end="2026-12-31")
    assert response.context["chart"].period == "month"


def test_the_csv_holds_exactly_the_rows_and_columns_shown(admin_client, ledger):
    studio, _ = ledger
    params = {"group_by": ["day", "model"], "workspaces": [studio.pk]}
    page = report(admin_client, **params)
    table = page.context["table"]
    csv_link = re.search(r'href="\?([^"]*format=csv[^"]*)"', page.content.decode()).group(1)
    response = admin_client.get(reverse(REPORT) + "?" + csv_link.replace("&amp;", "&"))
    assert response["Content-Type"] == "text/csv"
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == [
        "day",
        "model",
        "jobs",
        "priced_jobs",
        "cost",
        "seconds",
        "average_cost",
        "cost_per_second",
    ]
    assert len(lines) - 1 == len(table["rows"]) == 4
    for shown, downloaded in zip(table["rows"], lines[1:], strict=True):
        assert shown[0][0] == downloaded[0] and shown[1][0] == downloaded[1]
        assert Decimal(shown[4][0]) == Decimal(downloaded[4])  # same money, unrounded


def test_the_report_is_narrowed_to_chosen_workspaces(admin_client, ledger):
    _, other = ledger
    page = report(admin_client, workspaces=[other.pk], group_by=["workspace"])
    assert [row[0][0] for row in page.context["table"]["rows"]] == ["other"]


def test_usage_report_page_shows_form_errors_not_500(admin_client):
    response = admin_client.get(
        reverse(REPORT), {"start": "2026-12-01", "end": "2026-11-01", "time_zone": "Mars/X"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "ends before it starts" in text and "Unknown time zone" in text


def test_usage_report_needs_view_permission(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(REPORT)).status_code == 403


def test_view_only_staff_read_the_report(viewer_client, ledger):
    assert "google/veo-3.1" in report(viewer_client).content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "9999-12-31", "end": "9999-12-31"}, "start"),  # was an OverflowError
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
        ({"workspaces": "99999999999999999999999"}, "workspaces"),  # SQLite overflowed
        ({"workspaces": "1" * 5000}, "workspaces"),
        ({"time_zone": "Europe/Paris\x07"}, "time_zone"),
        ({"time_zone": "x" * 300}, "time_zone"),
    ],
)
def test_usage_report_refuses_values_out_of_range(admin_client, params, field):
    response = admin_client.get(reverse(REPORT), params)
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_the_ledger_list_links_to_the_report(admin_client):
    page = admin_client.get(reverse("admin:videogen_usageentry_changelist")).content.decode()
    assert reverse(REPORT) in page and "Usage report" in page
