"""videogen's entry points on a host with ``ATOMIC_REQUESTS = True``: provider calls never
happen inside the request's transaction, and a refused job's ``budget_exceeded`` receivers
run after its rollback (their writes stay, they hold no lock)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.urls import reverse

from tests.api.conftest import API, PROVIDER, client_for
from tests.factories import make_job, make_member, make_workspace
from videogen import signals
from videogen.models import Role, VideoJob, VideoModel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def atomic_requests():
    """The host wraps every request in a transaction."""
    for alias in connections:
        connections[alias].settings_dict["ATOMIC_REQUESTS"] = True
    yield
    for alias in connections:
        connections[alias].settings_dict["ATOMIC_REQUESTS"] = False


@pytest.fixture
def provider(settings):
    settings.VIDEOGEN = {"API_KEY": "sk-test", "BASE_URL": PROVIDER, "SIMULATOR": False}


@pytest.fixture
def ws():
    """A workspace with a member (``ws.member``)."""
    workspace = make_workspace("studio")
    workspace.member = make_member(workspace, role=Role.MEMBER)
    return workspace


@pytest.fixture
def request_connection():
    """The connection the views use: the test client runs them in this thread."""
    return connections["default"]


def in_transaction_when_called(mock, method: str, url: str, request_connection, **answer):
    """Answer ``url`` with ``answer``, noting whether the request's connection was in a
    transaction at that moment (polls run in worker threads: read the request's own)."""
    seen: list[bool] = []

    def callback(request):
        seen.append(request_connection.in_atomic_block)
        return answer.get("status", 200), answer.get("headers", {}), answer["body"]

    mock.add_callback(method, url, callback=callback)
    return seen


def poll_answer(job: VideoJob) -> str:
    return json.dumps(
        {
            "id": job.provider_job_id,
            "polling_url": "x",
            "status": "completed",
            "unsigned_urls": ["https://cdn.test/v.mp4"],
            "usage": {"cost": 0.5, "is_byok": False},
        }
    )


def test_api_refresh_polls_outside_the_request_transaction(
    atomic_requests, provider, ws, request_connection
):
    job = make_job(ws, status="pending", provider_job_id="vid-1")
    with responses.RequestsMock() as mock:
        seen = in_transaction_when_called(
            mock, "GET", f"{PROVIDER}/videos/vid-1", request_connection, body=poll_answer(job)
        )
        response = client_for(ws.member).post(f"{API}/jobs/{job.public_id}/refresh/")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert seen == [False]


def test_api_content_streams_outside_the_request_transaction(
    atomic_requests, provider, ws, request_connection
):
    job = make_job(ws, status="completed", provider_job_id="vid-2", unsigned_urls=["x"])
    with responses.RequestsMock() as mock:
        seen = in_transaction_when_called(
            mock,
            "GET",
            f"{PROVIDER}/videos/vid-2/content",
            request_connection,
            body=b"\x00\x00\x00\x18ftypmp42 video",
            headers={"Content-Type": "video/mp4"},
        )
        response = client_for(ws.member).get(f"{API}/jobs/{job.public_id}/content/")
        assert b"".join(response.streaming_content).endswith(b"video")
    assert response.status_code == 200 and seen == [False]


def test_page_refresh_polls_outside_the_request_transaction(
    atomic_requests, provider, ws, request_connection
):
    job = make_job(ws, status="pending", provider_job_id="vid-3")
    client = Client()
    client.force_login(ws.member)
    with responses.RequestsMock() as mock:
        seen = in_transaction_when_called(
            mock, "GET", f"{PROVIDER}/videos/vid-3", request_connection, body=poll_answer(job)
        )
        response = client.post(reverse("videogen:job-refresh", args=[ws.slug, job.public_id]))
    assert response.status_code == 302
    assert seen == [False]
    assert VideoJob.objects.get(pk=job.pk).status == "completed"


@pytest.fixture
def flat_model():
    return VideoModel.objects.create(
        model_id="flat/model", name="Flat", pricing_skus={"generate": "0.50"}
    )


@pytest.fixture
def refusal_receiver(request_connection):
    """A site's receiver: notes whether it ran in a transaction, and writes a row."""
    calls: list[dict] = []

    def receiver(sender, workspace, blocked, **kwargs):
        calls.append({"blocked": blocked, "in_transaction": request_connection.in_atomic_block})
        get_user_model().objects.create(username=f"notified-{len(calls)}")

    signals.budget_exceeded.connect(receiver)
    yield calls
    signals.budget_exceeded.disconnect(receiver)


def refused_receivers_wrote(calls) -> bool:
    return get_user_model().objects.filter(username__startswith="notified-").count() == len(calls)


def test_api_budget_refusal_signals_after_the_rollback(
    atomic_requests, flat_model, ws, refusal_receiver, enqueued
):
    ws.monthly_budget = Decimal("0.10")
    ws.save()
    response = client_for(ws.member).post(
        f"{API}/jobs/",
        {"workspace": ws.slug, "model": "flat/model", "prompt": "x"},
        format="json",
    )
    assert response.status_code == 402
    assert refusal_receiver == [{"blocked": True, "in_transaction": False}]
    assert refused_receivers_wrote(refusal_receiver)
    assert not VideoJob.objects.exists()


def test_page_budget_refusal_signals_after_the_rollback(
    atomic_requests, flat_model, ws, refusal_receiver, enqueued
):
    ws.monthly_budget = Decimal("0.10")
    ws.save()
    client = Client()
    client.force_login(ws.member)
    response = client.post(
        reverse("videogen:workspace", args=[ws.slug]), {"model": "flat/model", "prompt": "x"}
    )
    assert response.status_code == 200 and b"Monthly budget" in response.content
    assert refusal_receiver == [{"blocked": True, "in_transaction": False}]
    assert refused_receivers_wrote(refusal_receiver)


def test_admin_resubmit_refused_by_the_budget_signals_after_the_rollback(
    admin_client, flat_model, ws, refusal_receiver, enqueued
):
    unknown = make_job(ws, status="unknown", model="flat/model", estimated_cost=Decimal("0.50"))
    ws.monthly_budget = Decimal("0.10")
    ws.save()
    response = admin_client.post(
        reverse("admin:videogen_videojob_changelist"),
        {"action": "resubmit_jobs", "_selected_action": [unknown.pk], "confirm": "yes"},
        follow=True,
    )
    assert b"Monthly budget" in response.content
    assert refusal_receiver == [{"blocked": True, "in_transaction": False}]
    assert refused_receivers_wrote(refusal_receiver)
    unknown.refresh_from_db()
    assert unknown.status == "unknown"  # nothing changed
