"""Who may do what, in a real browser: a viewer watches but cannot make videos; another
workspace's job is a 404; a member who is not staff signs in through the site."""

# ruff: noqa: F811 (the fixtures imported from pages_site are used as parameters)
from __future__ import annotations

import pytest

from tests.browser.pages_site import sign_in, simulator_config, site, studio  # noqa: F401
from tests.factories import make_job, make_member, make_user, make_workspace
from videogen.models import Role, VideoJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_viewer_watches_but_cannot_make_videos(page, studio, screenshot):
    make_job(studio, status="completed", prompt="A lighthouse in a storm", cost="0.80")
    sign_in(page, "vic")
    page.goto(f"/videogen/w/{studio.slug}/")
    assert page.get_by_role("link", name="A lighthouse in a storm").is_visible()
    assert page.get_by_role("button", name="Create video").count() == 0
    assert page.get_by_label("Prompt").count() == 0
    screenshot(page, "viewer")
    # Even a hand-made POST (with the page's CSRF cookie) is refused.
    status = page.evaluate(
        """async (slug) => {
            const token = document.cookie.split("; ")
                .find(c => c.startsWith("csrftoken=")).split("=")[1];
            const body = new URLSearchParams({model: "google/veo-3.1", prompt: "sneaky"});
            const r = await fetch(`/videogen/w/${slug}/`, {method: "POST", body,
                headers: {"X-CSRFToken": token}});
            return r.status;
        }""",
        studio.slug,
    )
    assert status == 403
    assert not VideoJob.objects.filter(prompt="sneaky").exists()


def test_another_workspaces_job_is_not_found(page, studio, screenshot):
    elsewhere = make_workspace("elsewhere")
    secret = make_job(elsewhere, status="completed", prompt="Their secret video")
    make_member(elsewhere, make_user("olga"), role=Role.ADMIN)
    sign_in(page, "maria")
    for url in (
        f"/videogen/w/elsewhere/jobs/{secret.public_id}/",
        f"/videogen/w/studio/jobs/{secret.public_id}/",
        f"/videogen/w/elsewhere/jobs/{secret.public_id}/outputs/0/",
        "/videogen/w/elsewhere/",
        "/videogen/w/elsewhere/spend/",
    ):
        response = page.goto(url)
        assert response.status == 404, url
        assert "Their secret video" not in page.content()
    screenshot(page, "not-found")


def test_a_member_who_is_not_staff_signs_in_and_out(page, studio, screenshot):
    page.goto("/")
    assert page.url.endswith("/accounts/login/?next=/videogen/")
    page.get_by_label("Username").fill("mo")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    screenshot(page, "wrong-password")
    page.get_by_label("Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/videogen/")
    assert page.get_by_role("link", name="Studio", exact=True).is_visible()
    assert page.get_by_role("link", name="Admin").count() == 0
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("heading", name="You are signed out").is_visible()
    screenshot(page, "signed-out")
