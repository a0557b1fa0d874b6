"""Signed webhooks: payload, signature (checked here with hmac), idempotency key, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime

import pytest
import requests

from videogen.simulator.config import DEFAULT_WEBHOOK_SECRET

VEO = {"model": "google/veo-3.1", "prompt": "A lighthouse at dawn", "duration": 8}


def submit(session, sim, receiver, **overrides):
    body = {**VEO, "callback_url": receiver.url, **overrides}
    response = session.post(sim.url("/videos"), json=body)
    assert response.status_code == 202, response.text
    return response.json()


def check_signature(secret: str, header: str, body: bytes) -> int:
    """An independent reading of ``t=<unix>,v1=<hex>``: HMAC-SHA256 over "<t>," + body."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']},".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), parts["v1"])
    return int(parts["t"])


def test_completed_job_posts_a_signed_event(
    simulator, simulator_session, webhook_receiver, openrouter_schema
):
    job = submit(simulator_session, simulator, webhook_receiver)
    [received] = webhook_receiver.wait_for(1)

    assert received.path == "/webhooks/openrouter/"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-OpenRouter-Idempotency-Key"] == f"{job['id']}-completed"
    timestamp = check_signature(
        DEFAULT_WEBHOOK_SECRET, received.headers["X-OpenRouter-Signature"], received.body
    )
    assert abs(time.time() - timestamp) < 5

    event = json.loads(received.body)
    assert event["type"] == "video.generation.completed"
    datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
    data = event["data"]
    assert data == {
        "id": job["id"],
        "status": "completed",
        "generation_id": job["generation_id"],
        "model": "google/veo-3.1",
        "unsigned_urls": [f"{simulator.origin}/api/v1/videos/{job['id']}/content?index=0"],
        "usage": {"cost": 3.2, "is_byok": False},
        "error": None,
    }
    # The poll agrees with the webhook.
    polled = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()
    openrouter_schema(polled, "VideoGenerationResponse")
    assert polled["unsigned_urls"] == data["unsigned_urls"]
    assert polled["usage"] == data["usage"]


@pytest.mark.parametrize(
    ("marker", "status"),
    [("[sim:fail]", "failed"), ("[sim:cancel]", "cancelled"), ("[sim:expire]", "expired")],
)
def test_unsuccessful_endings_are_posted_with_their_error(
    simulator, simulator_session, webhook_receiver, marker, status
):
    job = submit(simulator_session, simulator, webhook_receiver, prompt=f"x {marker}")
    [received] = webhook_receiver.wait_for(1)
    event = json.loads(received.body)

    assert event["type"] == f"video.generation.{status}"
    assert event["data"]["status"] == status
    assert event["data"]["error"]
    assert event["data"]["unsigned_urls"] is None
    assert event["data"]["usage"] is None
    assert received.headers["X-OpenRouter-Idempotency-Key"] == f"{job['id']}-{status}"


def test_retries_after_a_500_with_the_same_body(simulator, simulator_session, webhook_receiver):
    webhook_receiver.statuses = [500, 503]
    job = submit(simulator_session, simulator, webhook_receiver)
    received = webhook_receiver.wait_for(3)

    assert len({r.body for r in received}) == 1
    keys = {r.headers["X-OpenRouter-Idempotency-Key"] for r in received}
    assert keys == {f"{job['id']}-completed"}
    for r in received:
        check_signature(DEFAULT_WEBHOOK_SECRET, r.headers["X-OpenRouter-Signature"], r.body)
    assert received[2].received_at - received[1].received_at >= 0.09  # backoff doubled
    assert simulator.webhooks.wait_for(lambda a: len(a) == 3)
    attempts = simulator.webhooks.attempts_for(job["id"])
    assert [(a.attempt, a.response_status, a.delivered) for a in attempts] == [
        (1, 500, False), (2, 503, False), (3, 200, True),
    ]  # fmt: skip
    time.sleep(0.3)
    assert len(webhook_receiver.requests) == 3  # no more after the 2xx


def test_gives_up_after_max_attempts(simulator, simulator_session, webhook_receiver):
    simulator.config.webhook_max_attempts = 3
    webhook_receiver.default_status = 500
    submit(simulator_session, simulator, webhook_receiver)
    webhook_receiver.wait_for(3)
    time.sleep(0.5)

    assert len(webhook_receiver.requests) == 3
    assert simulator.webhooks.stats() == {
        "attempts": 3, "delivered": 0, "failed_attempts": 3, "pending": 0,
    }  # fmt: skip


def test_connection_errors_are_retried_and_recorded(simulator, simulator_session, webhook_receiver):
    simulator.config.webhook_max_attempts = 2
    url = webhook_receiver.url
    webhook_receiver.close()  # nobody listens on that port any more
    simulator_session.post(simulator.url("/videos"), json={**VEO, "callback_url": url})

    assert simulator.webhooks.wait_for(lambda a: len(a) == 2)
    attempts = simulator.webhooks.attempts
    assert all(a.response_status is None and "ConnectionError" in a.error for a in attempts)


def test_forced_terminal_status_fires_at_once(simulator, simulator_session, webhook_receiver):
    simulator.config.pending_seconds = 60
    job = submit(simulator_session, simulator, webhook_receiver)
    simulator.state.set_status(job["id"], "failed", error="content policy")
    [received] = webhook_receiver.wait_for(1)

    event = json.loads(received.body)
    assert event["data"]["status"] == "failed"
    assert event["data"]["error"] == "content policy"


def test_one_event_per_status(simulator, simulator_session, webhook_receiver):
    job = submit(simulator_session, simulator, webhook_receiver)
    webhook_receiver.wait_for(1)
    simulator.state.set_status(job["id"], "completed")
    time.sleep(0.3)
    assert len(webhook_receiver.requests) == 1


def test_late_cost_webhook_carries_a_null_cost(simulator, simulator_session, webhook_receiver):
    job = submit(simulator_session, simulator, webhook_receiver, prompt="x [sim:late-cost]")
    [received] = webhook_receiver.wait_for(1)

    assert json.loads(received.body)["data"]["usage"] == {"cost": None, "is_byok": False}
    # The webhook did not spend the poll that shows a null cost.
    polled = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()
    assert polled["usage"]["cost"] is None


def test_unsigned_when_no_secret(simulator_factory, webhook_receiver):
    sim = simulator_factory(webhook_secret="")
    requests.post(
        sim.url("/videos"),
        json={**VEO, "callback_url": webhook_receiver.url},
        headers={"Authorization": f"Bearer {sim.api_key}"},
    )
    [received] = webhook_receiver.wait_for(1)
    assert "X-OpenRouter-Signature" not in received.headers


def test_jobs_without_callback_send_nothing(simulator, simulator_session, webhook_receiver):
    simulator_session.post(simulator.url("/videos"), json=VEO)
    time.sleep(0.4)
    assert webhook_receiver.requests == []
    assert simulator.webhooks.attempts == []


def test_attempts_listed_by_the_control_api(simulator, simulator_session, webhook_receiver):
    submit(simulator_session, simulator, webhook_receiver)
    webhook_receiver.wait_for(1)
    assert simulator.webhooks.wait_for(lambda a: len(a) == 1)
    listed = simulator_session.get(f"{simulator.origin}/_simulator/webhooks").json()["data"]

    assert listed[0]["response_status"] == 200
    assert json.loads(listed[0]["body"])["type"] == "video.generation.completed"


def test_many_jobs_share_one_dispatcher_thread(simulator, simulator_session, webhook_receiver):
    before = threading.active_count()
    for _ in range(20):
        submit(simulator_session, simulator, webhook_receiver)
    webhook_receiver.wait_for(20)
    assert len({r.headers["X-OpenRouter-Idempotency-Key"] for r in webhook_receiver.requests}) == 20
    assert threading.active_count() - before < 5
