"""Fixtures wiring the app to the in-process simulator (database tests)."""

from __future__ import annotations

import pytest

from tests.factories import make_workspace
from videogen.services import queue
from videogen.services.catalog import catalog_sync


@pytest.fixture
def app_on_simulator(simulator, settings, db):
    """VIDEOGEN pointed at the running simulator; polls due at once; catalog synced."""
    settings.VIDEOGEN = {
        "API_KEY": simulator.api_key,
        "BASE_URL": simulator.base_url,
        "SIMULATOR": True,
        "POLL_INITIAL_DELAY_SECONDS": 0,
        "POLL_MAX_DELAY_SECONDS": 0,
        "READ_TIMEOUT": 5,
    }
    catalog_sync()
    return simulator


def live_site_settings(simulator, live_server, secret: str, **overrides) -> dict:
    """VIDEOGEN for a live site on the simulator: its webhooks signed with ``secret`` and sent
    to this site's receiver (the live server), then ``overrides``."""
    return {
        "API_KEY": simulator.api_key,
        "BASE_URL": simulator.base_url,
        "SIMULATOR": True,
        "WEBHOOK_SECRETS": [secret],
        "CALLBACK_URL": f"{live_server.url}/videogen/webhooks/openrouter/",
        **overrides,
    }


def _recorder(monkeypatch, name: str) -> list[int]:
    """``queue.<name>`` records the job ids it is given instead of calling the broker (and
    answers that the broker took them)."""
    jobs: list[int] = []

    def record(job_id: int) -> bool:
        jobs.append(job_id)
        return True

    monkeypatch.setattr(queue, name, record)
    return jobs


@pytest.fixture
def enqueued(monkeypatch):
    """Submissions enqueued, recorded instead of sent to the broker."""
    return _recorder(monkeypatch, "enqueue_submit")


@pytest.fixture
def enqueued_fetches(monkeypatch):
    """Output fetches enqueued, recorded instead of sent to the broker."""
    return _recorder(monkeypatch, "enqueue_fetch_outputs")


@pytest.fixture
def enqueued_polls(monkeypatch):
    """Polls enqueued (staff's *Poll now*), recorded instead of sent to the broker."""
    return _recorder(monkeypatch, "enqueue_poll")


@pytest.fixture
def media_storage(settings, tmp_path):
    """Outputs stored under a fresh temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def workspace(db):
    return make_workspace()
