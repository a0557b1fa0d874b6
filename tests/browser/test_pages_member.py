"""A member's day, in a real browser: sign in, make a video, watch it finish without
reloading, play and seek it, download it, and find what it cost on the spend page."""

# ruff: noqa: F811 (the fixtures imported from pages_site are used as parameters)
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages_site import SECRET, sign_in, simulator_config, site, studio  # noqa: F401
from videogen.services.jobs.submission import job_create, job_submit
from videogen.services.money.display import money

pytestmark = pytest.mark.django_db(transaction=True)

VEO = "google/veo-3.1"


def test_a_member_makes_a_video_and_watches_it_finish(page, studio, screenshot):
    sign_in(page, "maria")
    screenshot(page, "1-workspaces")
    page.get_by_role("link", name="Studio", exact=True).click()
    quote = page.locator("#vg-quote")
    length = page.get_by_label("Length", exact=True)

    # Each model offers only its own options, and the price follows every change.
    page.get_by_label("Model").select_option("minimax/hailuo-02")
    expect(length.locator("option")).to_have_text(["6 seconds", "10 seconds"])
    expect(page.get_by_label("Shape")).to_have_value("16:9")
    expect(page.get_by_label("Shape").locator("option")).to_have_count(1)
    expect(page.get_by_label("With sound")).to_have_count(0)
    expect(page.get_by_text("Start from an image")).to_have_count(0)
    expect(quote).to_contain_text("0.50 USD")  # a flat price per video
    page.get_by_label("Model").select_option(VEO)
    expect(length.locator("option")).to_have_text(["4 seconds", "6 seconds", "8 seconds"])
    expect(page.get_by_label("Resolution").locator("option")).to_have_text(["720p", "1080p"])
    expect(page.get_by_label("With sound")).to_be_checked()
    expect(page.get_by_label("Last frame (an image)")).to_have_count(1)
    expect(length).to_have_value("6")  # carried over: this model has 6 s too
    expect(quote).to_contain_text("2.40 USD")  # 6 s × 0.40 with sound
    expect(quote).to_contain_text("Budget left this month50.00 USD")
    length.select_option("8")
    expect(quote).to_contain_text("3.20 USD")
    page.get_by_label("With sound").uncheck()
    expect(quote).to_contain_text("1.60 USD")  # 8 s × 0.20 silent
    page.get_by_label("With sound").check()
    length.select_option("4")
    expect(quote).to_contain_text("After this video48.40 USD")
    page.get_by_label("Describe your video").fill(
        "A heron lifts off from a misty lake at dawn, slow motion"
    )
    screenshot(page, "2-form")
    page.get_by_role("button", name="Create video").click()
    page.wait_for_url("**/jobs/*/")
    job_url = page.url
    assert page.get_by_text("Your video is being made").is_visible()
    screenshot(page, "3-job-running")

    # From here on the page must update by itself: no navigation at all.
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    ranges = []
    page.on("response", lambda r: ranges.append(r.status) if "/outputs/0/" in r.url else None)
    video = page.locator("video")
    video.wait_for(state="visible", timeout=30_000)
    assert navigations == [] and page.url == job_url
    assert page.locator(".vg-status").inner_text() == "Completed"
    assert page.get_by_text("1.60 USD").is_visible()
    screenshot(page, "4-job-completed")

    seek = page.evaluate(
        """async () => {
            const v = document.querySelector("video");
            if (v.readyState < 1)
                await new Promise(r => v.addEventListener("loadedmetadata", r, {once: true}));
            v.muted = true;
            await v.play();
            v.currentTime = 1.5;
            await new Promise(r => v.addEventListener("seeked", r, {once: true}));
            return {duration: v.duration, time: v.currentTime, error: v.error && v.error.code,
                    seekable: v.seekable.length ? v.seekable.end(0) : 0};
        }"""
    )
    assert seek["error"] is None and seek["duration"] == pytest.approx(2, abs=0.1)
    assert seek["time"] == pytest.approx(1.5, abs=0.1) and seek["seekable"] > 1.5
    assert 206 in ranges  # the player asked for byte ranges and got them
    screenshot(page, "5-job-seeked")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download video").click()
    assert download.value.suggested_filename.startswith("a-heron-lifts-off-from-a-misty-lake")
    assert download.value.suggested_filename.endswith(".mp4")

    page.get_by_role("link", name="Studio", exact=True).click()
    page.get_by_role("link", name="Spend").click()
    assert page.get_by_role("heading", name="Spend per day (USD)").is_visible()
    assert page.locator(".vg-stats").get_by_text("1.60 USD").is_visible()
    assert page.locator("svg rect").count() == 1
    screenshot(page, "6-spend")


def test_the_job_list_updates_by_itself(page, studio, screenshot):
    job = job_create(workspace=studio, data={"model": VEO, "prompt": "A fox in fresh snow"})
    job_submit(job_id=job.pk)
    sign_in(page, "mo")
    page.goto(f"/videogen/w/{studio.slug}/")
    row = page.get_by_role("row", name="A fox in fresh snow")
    assert row.locator(".vg-status").inner_text() in ("Pending", "In progress")
    screenshot(page, "running")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    row.get_by_text("Completed").wait_for(timeout=30_000)
    assert navigations == []
    job.refresh_from_db()
    assert job.status == "completed" and job.cost > 0
    assert row.get_by_text(money(job.cost)).is_visible()
    screenshot(page, "completed")


def test_unsuccessful_jobs_say_not_charged(page, studio, screenshot):
    job = job_create(workspace=studio, data={"model": VEO, "prompt": "A storm [sim:fail]"})
    job_submit(job_id=job.pk)
    sign_in(page, "mo")
    page.goto(f"/videogen/w/{studio.slug}/jobs/{job.public_id}/")
    page.get_by_text("No video:").wait_for(timeout=30_000)
    assert page.locator(".vg-status").inner_text() == "Failed"
    assert page.locator(".vg-cost").inner_text() == "not charged"
    assert page.get_by_text("You are not charged for it.").is_visible()
    screenshot(page, "failed")


assert SECRET  # the simulator signs its webhooks with the site's secret
