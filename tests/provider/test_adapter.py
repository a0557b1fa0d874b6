"""The client's transport adapter, against real sockets: what requests' own adapter does,
for less CPU per request, and no cookies kept between requests."""

from __future__ import annotations

import pytest
import requests

from videogen.provider.adapter import ProviderAdapter, origin_of
from videogen.provider.client import OpenRouterVideoClient
from videogen.provider.errors import ProviderError
from videogen.provider.types import VideoStatus

from .conftest import API_KEY


def test_polls_reach_the_api_with_the_sessions_headers(canned_api):
    api = canned_api
    with OpenRouterVideoClient(api_key=API_KEY, base_url=api.base_url) as client:
        snapshots = [client.get_video(f"job-{n}") for n in range(3)]
    assert [s.id for s in snapshots] == ["job-0", "job-1", "job-2"]
    assert all(s.status is VideoStatus.IN_PROGRESS for s in snapshots)
    assert api.paths == [f"/api/v1/videos/job-{n}" for n in range(3)]
    assert all(h["Authorization"] == f"Bearer {API_KEY}" for _, h in api.requests)


def test_a_cookie_the_api_sets_is_never_sent_back(canned_api_factory):
    """One client serves every workspace and thread: an answer's cookie must not ride on
    the next request (``requests``' own adapter would store it in the session)."""
    api = canned_api_factory(set_cookie="session=abc; Path=/")
    with OpenRouterVideoClient(api_key=API_KEY, base_url=api.base_url) as client:
        client.get_video("job-1")
        client.get_video("job-2")  # the fast path
        client.session.get(f"{api.base_url}/videos/job-3", timeout=5)  # the full path
        assert not client.session.cookies
    assert all("Cookie" not in headers for _, headers in api.requests)


def test_one_adapter_keeps_each_origins_requests_on_that_origin(canned_api_factory):
    """The remembered pool keys are per origin: a second host is never sent to the first."""
    first, second = canned_api_factory(), canned_api_factory()
    with OpenRouterVideoClient(api_key=API_KEY, base_url=first.base_url) as client:
        client.get_video("job-a")
        client.session.get(f"{second.base_url}/videos/job-b", timeout=5)
        client.get_video("job-c")
    assert first.paths == ["/api/v1/videos/job-a", "/api/v1/videos/job-c"]
    assert second.paths == ["/api/v1/videos/job-b"]


def test_each_caller_gets_its_own_copy_of_a_remembered_key():
    adapter = ProviderAdapter()
    for port in range(1, 40):  # more origins than are remembered
        request = requests.Request("GET", f"http://127.0.0.1:{port}/x").prepare()
        host_params, _ = adapter.build_connection_pool_key_attributes(request, True)
        assert host_params["port"] == port
        host_params["port"] = 0  # the caller's copy: the remembered key stays intact
        again, _ = adapter.build_connection_pool_key_attributes(request, True)
        assert again["port"] == port


def test_verify_is_part_of_the_key():
    adapter = ProviderAdapter()
    request = requests.Request("GET", "https://api.example/x").prepare()
    _, checked = adapter.build_connection_pool_key_attributes(request, True)
    _, unchecked = adapter.build_connection_pool_key_attributes(request, False)
    assert checked["cert_reqs"] == "CERT_REQUIRED"
    assert unchecked["cert_reqs"] == "CERT_NONE"


def test_an_unreachable_api_is_still_the_clients_error():
    with (
        OpenRouterVideoClient(
            api_key=API_KEY, base_url="http://127.0.0.1:9/api/v1", connect_timeout=1
        ) as client,
        pytest.raises(ProviderError),
    ):
        client.get_video("job-1")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://openrouter.ai/api/v1/videos/x", "https://openrouter.ai"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://h:1?q=/a", "http://h:1"),
        ("http://h#frag/x", "http://h"),
        ("not a url", "not a url"),
    ],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin
