"""The admin as staff see it, in headless Chromium: the job list at 1600 px, a completed
job with its video playing, a job needing attention, the usage report with its chart, the
overview on the admin index. Screenshots go to artifacts/screenshots/ for people to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.admin.scene import build
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

WIDE = {"width": 1600, "height": 1000}


@pytest.fixture
def wide_page(browser, live_server):
    """A page 1600 px wide (the issue's complaint: the list overflowed at that width)."""
    context = browser.new_context(base_url=live_server.url, viewport=WIDE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def scene(media_storage):
    return build(jobs=80)


def fits(page, selector: str) -> bool:
    """The element is not scrolled sideways: everything in it is visible."""
    return page.evaluate(
        "s => { const e = document.querySelector(s); return e.scrollWidth <= e.clientWidth + 1 }",
        selector,
    )


def test_the_job_list_fits_1600_px_with_readable_badges(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "staff", "x")
    page.goto(reverse("admin:videogen_videojob_changelist"))
    assert fits(page, ".results") and fits(page, "html")
    assert page.locator("h1 .vg-attention").inner_text().endswith("2 need attention")
    unknown = page.locator("#result_list tr", has_text=str(scene.unknown.public_id)[:8])
    assert unknown.locator(".vg-status-unknown").is_visible()
    assert unknown.locator(".vg-attention").is_visible()
    # Only the flagged rows carry the flag.
    assert page.locator("#result_list .vg-attention").count() == 2
    short_ids = page.locator("#result_list td.field-short_id").all_inner_texts()
    assert all(len(text.strip()) == 8 for text in short_ids)
    screenshot(page, "job-list")


def test_the_job_list_in_the_dark_theme(browser, live_server, screenshot, scene):
    context = browser.new_context(base_url=live_server.url, viewport=WIDE, color_scheme="dark")
    page = context.new_page()
    try:
        log_in(page, "staff", "x")
        page.goto(reverse("admin:videogen_videojob_changelist") + "?attention=yes")
        badge = page.locator("#result_list .vg-status-unknown").first
        colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(90, 60, 11)"  # the dark palette, not light badges on black
        screenshot(page, "job-list-dark", full_page=False)
    finally:
        context.close()


def test_a_completed_job_plays_its_stored_video(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "staff", "x")
    page.goto(reverse("admin:videogen_videojob_change", args=[scene.completed_with_video.pk]))
    video = page.locator(".vg-player video")
    assert video.is_visible()
    page.evaluate("document.querySelector('.vg-player video').play()")
    page.wait_for_function("document.querySelector('.vg-player video').currentTime > 0.5")
    assert video.evaluate("v => !v.error && v.readyState >= 2 && v.videoWidth === 320")
    page.evaluate("document.querySelector('.vg-player video').pause()")
    assert page.locator("a.viewsitelink", has_text="Customer’s page").is_visible()
    screenshot(page, "job-with-video")


def test_a_job_needing_attention_explains_itself_and_offers_its_remedies(
    wide_page, screenshot, scene
):
    page = wide_page
    log_in(page, "staff", "x")
    page.goto(reverse("admin:videogen_videojob_change", args=[scene.unknown.pk]))
    panel = page.locator(".vg-attention-panel")
    assert "Submission outcome unknown" in panel.inner_text()
    assert page.locator(".vg-job-actions button.default").all_inner_texts() == [
        "Mark abandoned",
        "Resubmit (may bill twice)",
    ]
    screenshot(page, "job-needing-attention", full_page=False)
    page.click(".vg-job-actions button:has-text('Resubmit')")
    assert "may be billed twice" in page.locator("#content").inner_text()
    screenshot(page, "resubmit-confirmation", full_page=False)


def test_the_usage_report_draws_its_chart(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "staff", "x")
    today = timezone.localdate()
    start = (today - timedelta(days=20)).isoformat()
    page.goto(
        reverse("admin:videogen_usageentry_report")
        + f"?start={start}&end={today.isoformat()}&group_by=model"
    )
    assert page.locator("h1").inner_text() == "Usage report"
    bars = page.locator(".vg-chart rect[class^='vg-series-']")
    assert bars.count() > 10
    assert page.locator(".vg-legend li").count() == 5
    assert page.locator(".datetimeshortcuts").count() == 2  # the admin's date pickers
    headings = page.locator("#usage-report thead th").all_inner_texts()
    assert [h.strip().lower() for h in headings][:3] == ["model", "jobs", "priced jobs"]
    assert fits(page, "html")
    screenshot(page, "usage-report")


def test_the_admin_index_opens_on_the_overview(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "staff", "x")
    overview = page.locator(".vg-overview")
    assert "Spend this month" in overview.inner_text()
    attention = overview.locator(".vg-stat-alert a.vg-stat-value")
    assert attention.inner_text() == "2"
    attention.click()
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 2
    page.goto("/admin/")
    screenshot(page, "admin-index", full_page=False)


def test_workspaces_show_spend_against_budget(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "staff", "x")
    page.goto(reverse("admin:videogen_workspace_changelist"))
    assert page.locator(".vg-bar").count() == 3  # the workspaces with a budget
    assert fits(page, ".results")
    screenshot(page, "workspaces", full_page=False)
    page.goto(reverse("admin:videogen_workspace_change", args=[scene.workspaces[0].pk]))
    screenshot(page, "workspace")


def test_view_only_staff_see_the_list_without_change_actions(wide_page, screenshot, scene):
    page = wide_page
    log_in(page, "viewer", "x")
    page.goto(reverse("admin:videogen_videojob_changelist"))
    options = page.locator("select[name=action] option").all_inner_texts()
    assert [o for o in options if o != "---------"] == ["Export CSV"]
    page.goto(reverse("admin:videogen_videojob_change", args=[scene.missing_cost.pk]))
    assert page.locator(".vg-job-actions").count() == 0
    screenshot(page, "viewer-job-page", full_page=False)
