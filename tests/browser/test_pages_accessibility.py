"""axe-core over every page a member sees: no serious or critical violation (WCAG 2 A/AA:
labels, contrast, landmarks, names of controls…), and the keyboard reaches what matters."""

# ruff: noqa: F811 (the fixtures imported from pages_site are used as parameters)
from __future__ import annotations

import pytest

from tests.browser.axe import axe_violations
from tests.browser.pages_site import sign_in, simulator_config, site, studio  # noqa: F401
from tests.factories import make_job
from tests.services.jobs.test_outputs import completed_job
from videogen.services.jobs.outputs import outputs_fetch

pytestmark = pytest.mark.django_db(transaction=True)


def assert_accessible(page, screenshot, name: str) -> None:
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, f"{name} ({page.url}):\n" + "\n".join(violations)


def test_every_page_passes_axe(page, studio, screenshot):
    page.goto("/accounts/login/")
    assert_accessible(page, screenshot, "login")
    sign_in(page, "maria")
    assert_accessible(page, screenshot, "workspaces")

    done = completed_job(studio, prompt="A paper boat drifting down a rainy street")
    outputs_fetch(job_id=done.pk)
    make_job(studio, status="failed", prompt="A storm", estimated_cost="0.5", error="Policy")
    make_job(studio, status="in_progress", prompt="A fox in snow", estimated_cost="0.8")
    page.goto(f"/videogen/w/{studio.slug}/")
    assert_accessible(page, screenshot, "workspace")

    page.get_by_role("button", name="Create video").click()  # empty: errors beside fields
    assert_accessible(page, screenshot, "workspace-errors")

    page.goto(f"/videogen/w/{studio.slug}/jobs/{done.public_id}/")
    page.locator("video").wait_for()
    assert_accessible(page, screenshot, "job-completed")

    page.goto(f"/videogen/w/{studio.slug}/spend/")
    assert_accessible(page, screenshot, "spend")
    page.get_by_text("The same numbers as a table").click()
    assert_accessible(page, screenshot, "spend-table")

    page.goto("/videogen/token/")
    page.get_by_role("button", name="Create a token").click()
    assert_accessible(page, screenshot, "token-new")

    page.goto(f"/videogen/w/{studio.slug}/?older=edited")
    assert_accessible(page, screenshot, "bad-link")


def test_the_keyboard_reaches_the_form_and_the_jobs(page, studio):
    make_job(studio, status="completed", prompt="A lighthouse", cost="0.8")
    sign_in(page, "maria")
    page.goto(f"/videogen/w/{studio.slug}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    order = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "document.activeElement.getAttribute('name')"
                " || document.activeElement.textContent.trim()"
            )
        )
    # After the skip link: the workspace tabs, then the form top to bottom, then the jobs.
    assert order.index("prompt") < order.index("model") < order.index("duration")
    assert order.index("duration") < order.index("Create video")
    assert order.index("Create video") < order.index("A lighthouse")
    focused = page.evaluate(
        "(s => s.outlineStyle + ' ' + s.outlineWidth)(getComputedStyle(document.activeElement))"
    )
    assert focused.startswith("solid") and not focused.endswith(" 0px")
