"""The demo site running on the live server against the in-process simulator, for the
pages' browser tests: signed webhooks complete jobs, tasks run inline (no qcluster)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.factories import make_member, make_user, make_workspace
from tests.fixtures_simulator import fast_config
from videogen.models import Role
from videogen.services.catalog import catalog_sync

SECRET = "whsec-browser"


@pytest.fixture
def simulator_config():
    # Slow enough that a page sees the job running, fast enough for a test.
    return fast_config(webhook_secret=SECRET, pending_seconds=1.0, processing_seconds=1.5)


@pytest.fixture
def site(live_server, simulator, settings, tmp_path):
    settings.VIDEOGEN = {
        "API_KEY": simulator.api_key,
        "BASE_URL": simulator.base_url,
        "SIMULATOR": True,
        "WEBHOOK_SECRETS": [SECRET],
        "CALLBACK_URL": f"{live_server.url}/videogen/webhooks/openrouter/",
        "TASKS_SYNC": True,
        "POLL_INITIAL_DELAY_SECONDS": 3600,  # only the webhook completes jobs
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    catalog_sync()
    return live_server


@pytest.fixture
def studio(site):
    """A workspace with an admin (not staff), a member, a viewer; passwords are "x"."""
    workspace = make_workspace("studio", monthly_budget=Decimal("50"))
    people = {
        "maria": make_member(workspace, make_user("maria"), role=Role.ADMIN),
        "mo": make_member(workspace, make_user("mo"), role=Role.MEMBER),
        "vic": make_member(workspace, make_user("vic"), role=Role.VIEWER),
    }
    workspace.people = people
    return workspace


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/videogen/")


def wait_until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
