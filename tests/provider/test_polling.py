"""The sweep's transport (``client.poll_videos``) against the simulator and local servers:
the same answers and the same errors as ``get_video``, at most ``concurrency`` in flight,
cancellable, through the same proxy, with the same headers and no cookies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from queue import SimpleQueue

import pytest

from videogen.provider.client import OpenRouterVideoClient
from videogen.provider.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderMalformedResponse,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from videogen.provider.types import VideoJobSnapshot

from .conftest import API_KEY


def poll_all(client, job_ids, *, concurrency=8, timeout=20.0) -> dict:
    """``{job id: snapshot or error}`` once every poll has answered."""
    answers: SimpleQueue = SimpleQueue()
    run = client.poll_videos(
        [(job_id, job_id) for job_id in job_ids],
        concurrency=concurrency,
        answer=lambda item, outcome: answers.put((item, outcome)),
    )
    try:
        return dict(answers.get(timeout=timeout) for _ in job_ids)
    finally:
        run.cancel()


@pytest.fixture
def sim_client(simulator) -> Iterator[OpenRouterVideoClient]:
    with OpenRouterVideoClient(
        api_key=simulator.api_key, base_url=simulator.base_url, read_timeout=5
    ) as client:
        yield client


def submit(client, n: int) -> list[str]:
    return [
        client.create_video({"model": "google/veo-3.1", "prompt": f"fox {i}", "duration": 4}).id
        for i in range(n)
    ]


def test_each_answer_is_the_snapshot_get_video_gives(sim_client):
    job_ids = submit(sim_client, 12)
    answers = poll_all(sim_client, job_ids, concurrency=4)
    assert set(answers) == set(job_ids)
    for job_id, outcome in answers.items():
        assert isinstance(outcome, VideoJobSnapshot)
        again = sim_client.get_video(job_id)
        assert (outcome.id, outcome.polling_url) == (again.id, again.polling_url)
        assert outcome.generation_id == again.generation_id


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"rate_limit_rate": 1.0, "retry_after_seconds": 120}, ProviderRateLimited),
        ({"server_error_rate": 1.0}, ProviderServerError),
        ({"malformed_rate": 1.0}, ProviderMalformedResponse),
        ({"reset_rate": 1.0}, ProviderConnectionError),
    ],
)
def test_a_fault_is_the_same_error_as_on_the_blocking_client(sim_client, simulator, fault, error):
    job_ids = submit(sim_client, 2)
    simulator.config.apply_patch(fault)
    with pytest.raises(ProviderError) as blocking:
        sim_client.get_video(job_ids[0])
    answers = poll_all(sim_client, job_ids)
    assert type(blocking.value) is error
    for outcome in answers.values():
        assert type(outcome) is error
        assert outcome.retry_after == blocking.value.retry_after
        # (the simulator picks its 5xx at random)
        assert (outcome.status_code or 0) // 100 == (blocking.value.status_code or 0) // 100


def test_an_unknown_job_is_not_found(sim_client):
    (outcome,) = poll_all(sim_client, ["job-nobody-made"]).values()
    assert isinstance(outcome, ProviderNotFound) and outcome.status_code == 404


def test_a_slow_provider_is_a_timeout(simulator):
    with OpenRouterVideoClient(
        api_key=simulator.api_key, base_url=simulator.base_url, read_timeout=0.2
    ) as client:
        job_ids = submit(client, 1)
        simulator.config.apply_patch({"latency_seconds": 1.0})
        (outcome,) = poll_all(client, job_ids).values()
    assert isinstance(outcome, ProviderTimeout)
    assert "timed out" in str(outcome)


def test_nothing_listening_is_a_connection_error(unused_port):
    with OpenRouterVideoClient(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{unused_port}/api/v1"
    ) as client:
        (outcome,) = poll_all(client, ["job-1"]).values()
    assert isinstance(outcome, ProviderConnectionError)
    assert not outcome.may_have_been_processed


def test_at_most_concurrency_polls_are_in_flight(canned_api_factory):
    api = canned_api_factory(delay=0.05)
    with OpenRouterVideoClient(api_key=API_KEY, base_url=api.base_url, pool_size=32) as client:
        answers = poll_all(client, [f"job-{n}" for n in range(24)], concurrency=3)
    assert len(answers) == 24
    assert api.most_in_flight == 3


def test_headers_are_the_clients_and_no_cookie_is_sent_back(canned_api_factory):
    api = canned_api_factory(set_cookie="session=abc; Path=/")
    with OpenRouterVideoClient(
        api_key=API_KEY, base_url=api.base_url, app_url="https://videos.example", app_title="V"
    ) as client:
        poll_all(client, ["job-1"], concurrency=1)
        poll_all(client, ["job-2"], concurrency=1)
        expected = {k: client.session.headers[k] for k in ("User-Agent", "HTTP-Referer", "X-Title")}
    assert api.paths == ["/api/v1/videos/job-1", "/api/v1/videos/job-2"]
    for _, headers in api.requests:
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert headers["Accept"] == "application/json"
        assert {k: headers[k] for k in expected} == expected
        assert "Cookie" not in headers


def test_a_run_takes_more_jobs_until_it_is_closed(sim_client):
    """The sweep claims in parts while it polls: a run started with ``more_to_come`` polls
    what it is given later too, each once, and ends only once closed."""
    job_ids = submit(sim_client, 9)
    answers: SimpleQueue = SimpleQueue()
    run = sim_client.poll_videos(
        [(job_id, job_id) for job_id in job_ids[:3]],
        concurrency=2,
        answer=lambda item, outcome: answers.put((item, outcome)),
        more_to_come=True,
    )
    try:
        first = dict(answers.get(timeout=10) for _ in range(3))
        run.add([(job_id, job_id) for job_id in job_ids[3:6]])
        run.add([(job_id, job_id) for job_id in job_ids[6:]])
        later = dict(answers.get(timeout=10) for _ in range(6))
        time.sleep(0.2)
        assert not run.done(), "ended before it was closed"
        run.close()
        deadline = time.monotonic() + 5
        while not run.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert run.done() and run.failure() is None
    finally:
        run.cancel()
    answered = {**first, **later}
    assert set(answered) == set(job_ids) and answers.empty()
    assert all(isinstance(outcome, VideoJobSnapshot) for outcome in answered.values())


def test_cancelled_polls_stop(canned_api_factory):
    api = canned_api_factory(delay=0.1)
    with OpenRouterVideoClient(api_key=API_KEY, base_url=api.base_url) as client:
        answers: SimpleQueue = SimpleQueue()
        run = client.poll_videos(
            [(n, f"job-{n}") for n in range(20)],
            concurrency=1,
            answer=lambda item, outcome: answers.put(item),
        )
        answers.get(timeout=5)
        run.cancel()
        time.sleep(0.4)
    assert len(api.requests) <= 2


def test_a_proxy_from_the_environment_carries_the_polls(monkeypatch, canned_api):
    proxy = canned_api  # a forward-proxy stand-in: it answers itself
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.origin)
    with OpenRouterVideoClient(api_key=API_KEY, base_url="http://openrouter.invalid/api/v1") as c:
        (outcome,) = poll_all(c, ["job-abc"]).values()
    assert isinstance(outcome, VideoJobSnapshot)
    assert proxy.paths == ["http://openrouter.invalid/api/v1/videos/job-abc"]
