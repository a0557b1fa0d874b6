"""The admin index (and the app's page) open on spend this month, jobs by status and the
jobs needing attention, each linking to where staff act on it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["admin:index", "app"])
def test_the_overview_shows_spend_statuses_and_attention_with_links(admin_client, page):
    make_job(status="completed", cost="2.5")
    make_job(status="completed", cost="1")
    make_job(status="unknown", needs_attention=True)
    make_job(status="failed")
    url = reverse("admin:app_list", args=["videogen"]) if page == "app" else reverse(page)
    text = admin_client.get(url).content.decode()
    now = timezone.localtime()
    jobs = reverse("admin:videogen_videojob_changelist")
    assert "3.50 USD" in text and "2 priced jobs" in text
    assert reverse("admin:videogen_usageentry_report") in text
    assert f'href="{jobs}?attention=yes">1</a>' in text
    assert (
        f"{jobs}?status__exact=completed&amp;created_at__year={now.year}"
        f"&amp;created_at__month={now.month}" in text
    )
    assert '<span class="vg-badge vg-status-unknown">outcome unknown</span>' in text


def test_the_overview_is_left_out_for_staff_without_videogen_permissions(client):
    make_job(status="completed", cost="2.5")
    client.force_login(make_user("other", is_staff=True))
    assert "Spend this month" not in client.get(reverse("admin:index")).content.decode()


def test_view_only_staff_see_the_overview(viewer_client):
    make_job(status="completed", cost="2.5")
    assert "2.50 USD" in viewer_client.get(reverse("admin:index")).content.decode()
