"""The one definition of a usage report's parameters, and the three doors that use it."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_member, make_user, make_workspace
from videogen.models import Role
from videogen.services.money.report_parameters import (
    ReportError,
    month_range,
    report_dimensions,
    report_month,
    report_period,
    report_time_zone,
)

UTC = zoneinfo.ZoneInfo("UTC")


def problems(call) -> dict[str, list[str]]:
    with pytest.raises(ReportError) as caught:
        call()
    return {name: [p.code for p in found] for name, found in caught.value.problems.items()}


def test_month_range():
    assert month_range(2026, 12) == (date(2026, 12, 1), date(2026, 12, 31))
    assert month_range(2028, 2) == (date(2028, 2, 1), date(2028, 2, 29))


# --- dimensions ------------------------------------------------------------------------------


def test_dimensions_are_kept_once_in_the_order_given():
    assert report_dimensions(["day", "model", "day"]) == ("day", "model")


@pytest.mark.parametrize(
    ("names", "code"),
    [(["colour"], "invalid"), ([], "invalid"), (["day", "month"], "conflict")],
)
def test_bad_dimensions(names, code):
    assert problems(lambda: report_dimensions(names)) == {"group_by": [code]}


def test_a_door_may_offer_fewer_dimensions():
    with pytest.raises(ReportError, match="group by one or more of model, day"):
        report_dimensions(["workspace"], allowed=["model", "day"])


# --- time zone and month ---------------------------------------------------------------------


def test_time_zone_by_name_or_the_sites():
    assert report_time_zone("Asia/Tokyo") == zoneinfo.ZoneInfo("Asia/Tokyo")
    assert report_time_zone("") == timezone.get_current_timezone()


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Europe/" + "x" * 60])
def test_unknown_time_zones(name):
    assert problems(lambda: report_time_zone(name)) == {"time_zone": ["invalid_time_zone"]}


def test_month():
    assert report_month("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "november", "2026-1", "0001-01"])
def test_not_a_month(text):
    assert problems(lambda: report_month(text)) == {"month": ["invalid"]}


# --- the period ------------------------------------------------------------------------------


def test_the_period_defaults_to_this_month_in_the_time_zone(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 30, 20, tzinfo=UTC))
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")  # already December 1st there
    assert report_period(start=None, end=None, tz=tokyo) == month_range(2026, 12)
    assert report_period(start=None, end=None, tz=UTC) == month_range(2026, 11)


def test_a_start_alone_runs_to_today_or_to_itself(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 30, 20, tzinfo=UTC))
    assert report_period(start=date(2026, 1, 5), end=None, tz=UTC) == (
        date(2026, 1, 5),
        date(2026, 11, 30),
    )
    assert report_period(start=date(2027, 1, 5), end=None, tz=UTC) == (
        date(2027, 1, 5),
        date(2027, 1, 5),
    )


@pytest.mark.parametrize(
    ("kwargs", "found"),
    [
        ({"month": month_range(2026, 1), "start": date(2026, 1, 1)}, {"month": ["conflict"]}),
        ({"end": date(2026, 1, 1)}, {"start": ["required"]}),
        ({"start": date(2026, 2, 1), "end": date(2026, 1, 1)}, {"end": ["invalid"]}),
        (
            {"start": date(1, 1, 1), "end": date(9999, 12, 31)},
            {"start": ["invalid"], "end": ["invalid"]},
        ),
    ],
)
def test_bad_periods(kwargs, found):
    params = {"start": None, "end": None, **kwargs}
    assert problems(lambda: report_period(tz=UTC, **params)) == found


# --- one rule, three doors -------------------------------------------------------------------

MESSAGE = "Unknown time zone “Mars/Olympus”; use an IANA name such as Europe/Paris."


@pytest.mark.django_db
def test_every_door_refuses_a_bad_parameter_with_the_one_message(admin_client):
    api = APIClient()
    api.force_authenticate(make_member(make_workspace("acme"), make_user("boss"), Role.ADMIN))
    answer = api.get("/videogen/api/workspaces/acme/usage/?tz=Mars/Olympus")
    assert answer.json()["errors"]["tz"] == [{"message": MESSAGE, "code": "invalid_time_zone"}]
    page = admin_client.get(
        reverse("admin:videogen_usageentry_report"), {"time_zone": "Mars/Olympus"}
    )
    assert page.context["form"].errors["time_zone"] == [MESSAGE]
    with pytest.raises(CommandError) as caught:
        call_command("videogen_usage_report", "--tz", "Mars/Olympus", stdout=StringIO())
    assert str(caught.value) == f"--tz: {MESSAGE}"
