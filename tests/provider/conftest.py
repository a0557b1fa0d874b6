"""Fixtures for the provider tests: HTTP is mocked at the edge with ``responses``.

Every test that touches HTTP uses ``mocked_responses``: a request that matches nothing
registered fails, and a registered response that is never requested fails the test too.
"""

from __future__ import annotations

import socket

import pytest
import responses

from videogen.provider.client import OpenRouterVideoClient

BASE_URL = "https://openrouter.test/api/v1"
API_KEY = "sk-or-test-0123456789abcdef"


@pytest.fixture
def mocked_responses():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def video_client():
    """A client built directly (not from settings), closed after the test."""
    with OpenRouterVideoClient(
        api_key=API_KEY,
        base_url=BASE_URL,
        connect_timeout=3.0,
        read_timeout=20.0,
        pool_size=8,
    ) as client:
        yield client


@pytest.fixture
def videogen_settings_for_tests(settings):
    """``VIDEOGEN`` pointing at the mocked provider; pytest-django restores it afterwards."""
    settings.VIDEOGEN = {
        "API_KEY": API_KEY,
        "BASE_URL": BASE_URL,
        "CONNECT_TIMEOUT": 2.5,
        "READ_TIMEOUT": 12.0,
        "HTTP_POOL_SIZE": 7,
        "APP_URL": "https://videos.example.com",
        "APP_TITLE": "Example Videos",
    }
    return settings.VIDEOGEN


@pytest.fixture
def unused_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
