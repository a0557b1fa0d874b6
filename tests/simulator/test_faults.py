"""Fault injection: deterministic draws, and what each fault looks like on the wire."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from videogen.simulator.config import SimulatorConfig
from videogen.simulator.faults import FaultInjector, FaultKind

VEO = {"model": "google/veo-3.1", "prompt": "A lighthouse at dawn"}
ERROR_SCHEMAS = {
    429: "TooManyRequestsResponse",
    500: "InternalServerResponse",
    502: "BadGatewayResponse",
    503: "ServiceUnavailableResponse",
}


def test_no_faults_by_default():
    injector = FaultInjector(SimulatorConfig())
    assert all(injector.draw() is None for _ in range(1000))


def test_draws_are_deterministic_for_a_seed():
    config = SimulatorConfig(seed=7, rate_limit_rate=0.2, server_error_rate=0.2, reset_rate=0.1)
    a, b = FaultInjector(config), FaultInjector(config)
    assert [a.draw() for _ in range(200)] == [b.draw() for _ in range(200)]
    b.reseed(7)
    a2 = FaultInjector(config)
    assert [a2.draw() for _ in range(50)] == [b.draw() for _ in range(50)]


def test_rates_are_probabilities():
    config = SimulatorConfig(
        seed=1, rate_limit_rate=0.1, server_error_rate=0.2, malformed_rate=0.05, reset_rate=0.15
    )
    injector = FaultInjector(config)
    counts = Counter(f.kind if f else None for f in (injector.draw() for _ in range(20_000)))
    assert counts[FaultKind.RATE_LIMIT] / 20_000 == pytest.approx(0.10, abs=0.01)
    assert counts[FaultKind.SERVER_ERROR] / 20_000 == pytest.approx(0.20, abs=0.01)
    assert counts[FaultKind.MALFORMED] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert counts[FaultKind.RESET] / 20_000 == pytest.approx(0.15, abs=0.01)
    assert counts[None] / 20_000 == pytest.approx(0.50, abs=0.015)


def test_rate_limit_is_429_with_retry_after(simulator, simulator_session, openrouter_schema):
    simulator.config.apply_patch({"rate_limit_rate": 1.0, "retry_after_seconds": 7})
    response = simulator_session.post(simulator.url("/videos"), json=VEO)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    openrouter_schema(response.json(), "TooManyRequestsResponse")
    assert len(simulator.state) == 0  # the request was refused before it was handled


def test_server_errors_are_json_5xx(simulator, simulator_session, openrouter_schema):
    simulator.config.server_error_rate = 1.0
    statuses = set()
    for _ in range(40):
        response = simulator_session.get(simulator.url("/videos/models"))
        statuses.add(response.status_code)
        openrouter_schema(response.json(), ERROR_SCHEMAS[response.status_code])
    assert statuses == {500, 502, 503}


def test_malformed_is_200_without_json(simulator, simulator_session):
    simulator.config.malformed_rate = 1.0
    response = simulator_session.get(simulator.url("/videos/models"))

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_reset_closes_the_connection_without_a_response(simulator, simulator_session):
    simulator.config.reset_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        simulator_session.get(simulator.url("/videos/models"))
    simulator.config.reset_rate = 0.0
    # The pool recovers with a fresh connection.
    assert simulator_session.get(simulator.url("/videos/models")).status_code == 200


def test_fault_after_processing_creates_the_job_anyway(simulator, simulator_session):
    simulator.config.apply_patch({"reset_rate": 1.0, "fault_after_processing": True})
    with pytest.raises(requests.ConnectionError):
        simulator_session.post(simulator.url("/videos"), json=VEO)
    assert len(simulator.state) == 1


def test_a_server_error_after_processing_answers_like_a_gateway_not_like_the_provider(
    simulator, simulator_session
):
    simulator.config.apply_patch({"server_error_rate": 1.0, "fault_after_processing": True})
    response = simulator_session.post(simulator.url("/videos"), json=VEO)
    assert response.status_code in (500, 502, 503)
    assert response.headers["Content-Type"].startswith("text/html")
    assert len(simulator.state) == 1


def test_a_429_is_always_answered_before_processing(simulator, simulator_session):
    # A documented refusal of a job the provider then created would be a provider bug.
    simulator.config.apply_patch({"rate_limit_rate": 1.0, "fault_after_processing": True})
    response = simulator_session.post(simulator.url("/videos"), json=VEO)
    assert response.status_code == 429
    assert len(simulator.state) == 0


def test_latency_after_processing_times_out_a_post_that_created_its_job(simulator):
    simulator.config.apply_patch({"latency_seconds": 0.5, "latency_after_processing": True})
    headers = {"Authorization": f"Bearer {simulator.api_key}"}
    with pytest.raises(requests.ReadTimeout):
        requests.post(simulator.url("/videos"), json=VEO, headers=headers, timeout=(2, 0.1))
    assert len(simulator.state) == 1


def test_latency_is_added_and_requests_overlap(simulator):
    simulator.config.latency_seconds = 0.3
    headers = {"Authorization": f"Bearer {simulator.api_key}"}

    def call(_):
        return requests.get(simulator.url("/videos/models"), headers=headers).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(8)))
    elapsed = time.monotonic() - started

    assert statuses == [200] * 8
    assert 0.3 <= elapsed < 0.9  # eight sleeps of 0.3 s ran side by side


def test_control_api_is_never_faulted(simulator, simulator_session):
    simulator.config.apply_patch({"server_error_rate": 1.0, "latency_seconds": 1.0})
    started = time.monotonic()
    response = simulator_session.get(f"{simulator.origin}/_simulator/stats")
    assert response.status_code == 200
    assert time.monotonic() - started < 0.5
    simulator.config.latency_seconds = 0.0
    simulator_session.get(simulator.url("/videos/models"))
    stats = simulator_session.get(f"{simulator.origin}/_simulator/stats").json()
    assert stats["faults"] == {"server_error": 1}


def test_faults_configured_over_the_control_api(simulator, simulator_session):
    url = f"{simulator.origin}/_simulator/config"
    simulator_session.post(url, json={"rate_limit_rate": 1.0})
    assert simulator_session.get(simulator.url("/videos/models")).status_code == 429
    simulator_session.post(url, json={"rate_limit_rate": 0})
    assert simulator_session.get(simulator.url("/videos/models")).status_code == 200
