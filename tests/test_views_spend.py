"""The spend page: a workspace's spend per day (chart, stacked by model), totals by model,
a month picker and the same numbers as CSV, for the workspace's admins only."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_job, make_ledger_entry, make_member, make_workspace
from videogen.models import Role, VideoModel

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def at(day: int, month: int = 6, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def ws():
    workspace = make_workspace("studio")
    VideoModel.objects.create(model_id="google/veo-3.1", name="Google: Veo 3.1")
    VideoModel.objects.create(model_id="openai/sora-2", name="OpenAI: Sora 2")
    billed = [
        ("google/veo-3.1", "1.60", at(3), 4),
        ("google/veo-3.1", "0.80", at(3, hour=18), 2),
        ("openai/sora-2", "0.40", at(3), 4),
        ("openai/sora-2", "1.20", at(17), 12),
        ("google/veo-3.1", "9.99", at(30, month=5), 8),  # May: not in June
    ]
    for model, cost, when, seconds in billed:
        job = make_job(
            workspace, model=model, status="completed", duration=seconds, finished_at=when
        )
        make_ledger_entry(job, cost=cost, completed_at=when)
    make_job(workspace, status="failed", estimated_cost=Decimal("5"), finished_at=at(4))
    return workspace


def client_for(workspace, role):
    client = Client()
    client.force_login(make_member(workspace, role=role))
    return client


def spend_url(workspace) -> str:
    return reverse("videogen:workspace-spend", args=[workspace.slug])


def test_admins_see_spend_per_day_by_model_with_totals(ws):
    response = client_for(ws, Role.ADMIN).get(spend_url(ws), {"month": "2025-06"})
    assert response.status_code == 200
    spend = response.context["spend"]
    assert spend.total == Decimal("4.00") and spend.jobs == 4
    assert [(m.model, m.cost, m.jobs, m.seconds, m.percent) for m in spend.models] == [
        ("google/veo-3.1", Decimal("2.40"), 2, 6, 60),
        ("openai/sora-2", Decimal("1.60"), 2, 16, 40),
    ]
    assert len(spend.days) == 30
    assert spend.days[2].by_model == {
        "google/veo-3.1": Decimal("2.40"),
        "openai/sora-2": Decimal("0.40"),
    }
    text = response.content.decode()
    assert "4.00 USD" in text and "Google: Veo 3.1" in text and "60%" in text
    # The chart: one stacked segment per (day, model), each naming its numbers.
    assert text.count("<rect ") == 3
    assert "<title>Jun 3, Google: Veo 3.1: 2.40 USD</title>" in text
    assert "<title>Jun 17, OpenAI: Sora 2: 1.20 USD</title>" in text
    assert 'role="img" aria-labelledby="vg-chart-title vg-chart-desc"' in text
    assert "the most on Jun 3 (2.80 USD)" in text


def test_the_csv_has_the_same_numbers(ws):
    response = client_for(ws, Role.ADMIN).get(spend_url(ws), {"month": "2025-06", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="spend-studio-2025-06.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["day"], r["model"], r["cost"]) for r in rows] == [
        ("2025-06-03", "google/veo-3.1", "2.40000000"),
        ("2025-06-03", "openai/sora-2", "0.40000000"),
        ("2025-06-17", "openai/sora-2", "1.20000000"),
    ]
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal("4.00")


def test_the_month_picker_moves_between_months(ws):
    client = client_for(ws, Role.ADMIN)
    june = client.get(spend_url(ws), {"month": "2025-06"}).content.decode()
    assert 'href="?month=2025-05"' in june and 'href="?month=2025-07"' in june
    may = client.get(spend_url(ws), {"month": "2025-05"})
    assert may.context["spend"].total == Decimal("9.99")
    empty = client.get(spend_url(ws), {"month": "2024-01"}).content.decode()
    assert "Nothing was spent in January 2024." in empty


def test_this_month_is_shown_by_default_with_the_budget(ws):
    ws.monthly_budget = Decimal("10")
    ws.save()
    response = client_for(ws, Role.ADMIN).get(spend_url(ws))
    assert response.status_code == 200
    assert response.context["spend"].is_current
    assert "Monthly budget" in response.content.decode()
    assert 'href="?month=' in response.content.decode()


@pytest.mark.parametrize(
    "month", ["2025-13", "June", "2025-6", "0000-01", "9999-01", "2025-06\x00", "\ud800"]
)
def test_a_bad_month_is_a_400_with_the_reason(ws, month):
    query = urlencode({"month": month}, errors="surrogatepass")
    response = client_for(ws, Role.ADMIN).get(f"{spend_url(ws)}?{query}")
    assert response.status_code == 400
    assert response.context["form"].errors["month"]
    assert b'class="errorlist"' in response.content


def test_an_unknown_format_is_a_400(ws):
    response = client_for(ws, Role.ADMIN).get(spend_url(ws), {"format": "xlsx"})
    assert response.status_code == 400


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_may_not_see_the_spend(ws, role):
    client = client_for(ws, role)
    assert client.get(spend_url(ws)).status_code == 403
    assert b"Spend" not in client.get(reverse("videogen:workspace", args=[ws.slug])).content


def test_another_workspace_spend_is_404(ws):
    outsider = client_for(make_workspace("elsewhere"), Role.ADMIN)
    assert outsider.get(spend_url(ws)).status_code == 404
    assert outsider.get(spend_url(ws), {"format": "csv"}).status_code == 404


def test_admins_find_the_spend_tab(ws):
    page = client_for(ws, Role.ADMIN).get(reverse("videogen:workspace", args=[ws.slug]))
    assert f'href="{spend_url(ws)}"' in page.content.decode()
