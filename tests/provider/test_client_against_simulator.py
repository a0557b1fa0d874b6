"""The client's round trip against the in-process simulator: what a user runs first."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from videogen.provider.client import OpenRouterVideoClient
from videogen.provider.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderNotFound,
    ProviderTimeout,
)
from videogen.provider.types import VideoStatus


@pytest.fixture
def client(simulator):
    with OpenRouterVideoClient(api_key=simulator.api_key, base_url=simulator.base_url) as c:
        yield c


def test_submit_poll_download_and_list_models(client, simulator):
    models = client.list_models()
    assert len(models) >= 4 and all(m.supported_durations for m in models)
    veo = next(m for m in models if m.id == "google/veo-3.1")
    assert veo.pricing_skus

    created = client.create_video(
        {
            "model": veo.id,
            "prompt": "A serene mountain landscape",
            "duration": veo.supported_durations[0],
        }
    )
    assert created.status is VideoStatus.PENDING and created.id

    deadline = time.monotonic() + 5
    snapshot = created
    seen = {snapshot.status}
    while not snapshot.is_terminal and time.monotonic() < deadline:
        time.sleep(0.03)
        snapshot = client.get_video(created.id)
        seen.add(snapshot.status)
    assert snapshot.status is VideoStatus.COMPLETED
    assert VideoStatus.IN_PROGRESS in seen or VideoStatus.PENDING in seen
    assert isinstance(snapshot.usage.cost, Decimal) and snapshot.usage.cost > 0
    assert snapshot.unsigned_urls

    with client.iter_content(created.id, index=0) as content:
        assert content.content_type.startswith("video/mp4")
        data = b"".join(content.iter_chunks())
    assert data[4:8] == b"ftyp" and len(data) == content.content_length


def test_typed_errors_from_the_simulator(client, simulator):
    with pytest.raises(ProviderBadRequest, match="duration"):
        client.create_video({"model": "google/veo-3.1", "prompt": "x", "duration": 999})
    with pytest.raises(ProviderNotFound):
        client.get_video("no-such-job")
    with OpenRouterVideoClient(api_key="wrong", base_url=simulator.base_url) as bad:
        with pytest.raises(ProviderAuthError):
            bad.list_models()


def test_a_slow_provider_is_a_timeout(simulator):
    simulator.config.apply_patch({"latency_seconds": 1.0})
    with OpenRouterVideoClient(
        api_key=simulator.api_key, base_url=simulator.base_url, read_timeout=0.2
    ) as slow:
        with pytest.raises(ProviderTimeout):
            slow.list_models()
