"""Browser tests: headless Chromium (Debian's ``chromium``) driven by Playwright, against a
live server on the test database. Screenshots are saved under ``artifacts/screenshots/``
(git-ignored) for people to look at.

Marked ``browser``. Without Chromium or the ``playwright`` package they are skipped, except
when ``VIDEOGEN_REQUIRE_BROWSER=1`` (CI): then a missing browser fails the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("VIDEOGEN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The flags Chromium needs in this sandbox: no GPU, no network chatter, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
REQUIRE_BROWSER = os.environ.get("VIDEOGEN_REQUIRE_BROWSER") == "1"

# Playwright's sync API runs an event loop; Django refuses ORM calls from async contexts.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator:
    missing = _missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests are required (VIDEOGEN_REQUIRE_BROWSER=1): {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser context and page (1440 × 900), its base URL the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` saves ``artifacts/screenshots/<test>-<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png".replace("/", "_")
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


def log_in(page, username: str, password: str, *, url: str = "/admin/login/") -> None:
    """Log in through a real login form (the admin's, or the site's)."""
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    page.wait_for_load_state()
