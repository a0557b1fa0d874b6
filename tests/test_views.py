"""The webhook receiver, tested as a contract (anymail style) through a CSRF-enforcing client."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_job
from tests.webhook_signing import OLD_SECRET, SECRET, event, sign
from videogen.models import JobEvent, UsageEntry, VideoJob, WebhookDelivery

pytestmark = pytest.mark.django_db

URL = "/videogen/webhooks/openrouter/"


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": "https://openrouter.test/api/v1",
        "WEBHOOK_SECRETS": [SECRET, OLD_SECRET],
        "WEBHOOK_MAX_BODY_BYTES": 64 * 1024,
    }


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def job():
    return make_job(status="in_progress", provider_job_id="job-1", duration=8)


def post(client, body: bytes, signature: str | None = "sign", key: str | None = "auto", **headers):
    if signature == "sign":
        signature = sign(body)
    if key == "auto":
        try:
            data = json.loads(body)["data"]
            key = f"{data['id']}-{data['status']}"
        except Exception:
            key = None
    if signature is not None:
        headers["HTTP_X_OPENROUTER_SIGNATURE"] = signature
    if key is not None:
        headers["HTTP_X_OPENROUTER_IDEMPOTENCY_KEY"] = key
    return client.post(URL, body, content_type="application/json", **headers)


def test_url_is_reversible():
    assert reverse("videogen:openrouter-webhook") == URL


def test_valid_event_completes_the_job_and_writes_the_ledger(client, job):
    response = post(client, event("job-1", cost=0.5))
    assert response.status_code == 204
    job.refresh_from_db()
    assert job.status == "completed" and job.cost == Decimal("0.5")
    assert job.unsigned_urls and job.generation_id == "gen-job-1"
    assert JobEvent.objects.get(job=job).source == "webhook"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid, delivery.job) == ("processed", True, job)
    assert delivery.idempotency_key == "job-1-completed"
    assert delivery.event_type == "video.generation.completed"
    assert delivery.processing_ms is not None


def test_the_same_event_ten_times_is_processed_once(client, job):
    body = event("job-1", cost=1.25)
    answers = [post(client, body).status_code for _ in range(10)]
    assert answers == [204] * 10
    assert WebhookDelivery.objects.count() == 1
    assert JobEvent.objects.filter(job=job).count() == 1
    assert UsageEntry.objects.get(job=job).cost == Decimal("1.25")


def test_rotated_secret_is_accepted(client, job):
    body = event("job-1")
    assert post(client, body, signature=sign(body, OLD_SECRET)).status_code == 204


@pytest.mark.parametrize(
    "make_signature",
    [
        lambda body: sign(body, "wrong-secret"),
        lambda body: sign(body, timestamp=int(time.time()) - 301),
        lambda body: sign(body, timestamp=int(time.time()) + 301),
        lambda body: sign(body + b" "),
        lambda body: "",
        lambda body: "garbage",
        lambda body: "t=notanumber,v1=abc",
        lambda body: sign(body).split(",")[0],
        lambda body: None,
    ],
    ids=["wrong", "stale", "future", "tampered", "empty", "garbage", "bad-ts", "no-v1", "missing"],
)
def test_bad_signatures_get_401_are_recorded_and_change_nothing(client, job, make_signature):
    body = event("job-1")
    response = post(client, body, signature=make_signature(body))
    assert response.status_code == 401
    assert "signature" in response.json()["error"].lower()
    job.refresh_from_db()
    assert job.status == "in_progress"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.signature_valid, delivery.outcome) == (False, "rejected")
    assert delivery.idempotency_key is None  # a forgery never claims the real event's key


def test_a_forged_event_cannot_block_the_real_one(client, job):
    body = event("job-1")
    post(client, body, signature=sign(body, "attacker"))
    assert post(client, body).status_code == 204
    job.refresh_from_db()
    assert job.status == "completed"


def test_within_tolerance_in_both_directions_is_accepted(client, job):
    body = event("job-1")
    assert (
        post(client, body, signature=sign(body, timestamp=int(time.time()) + 250)).status_code
        == 204
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "video.generation.completed"}',
        b'{"data": {"id": "x"}}',
        b'{"type": "video.generation.completed", "data": {"status": "completed"}}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_get_400(client, job, body):
    response = post(client, body, key=None)
    assert response.status_code == 400
    assert WebhookDelivery.objects.get().outcome == "rejected"


def test_huge_body_gets_413_without_reading_it_all(client, job):
    body = b"{" + b" " * (70 * 1024) + b"}"
    response = post(client, body)
    assert response.status_code == 413
    assert "WEBHOOK_MAX_BODY_BYTES" in response.json()["error"]


def test_unknown_event_type_is_recorded_and_acknowledged(client, job):
    body = event("job-1", status="completed", cost=0.1)
    body = body.replace(b"video.generation.completed", b"video.generation.upscaled")
    assert post(client, body, key="job-1-upscaled").status_code == 204
    assert WebhookDelivery.objects.get().outcome == "ignored"
    job.refresh_from_db()
    assert job.status == "in_progress"


def test_unknown_job_is_recorded_and_acknowledged(client):
    assert post(client, event("job-nobody-knows")).status_code == 204
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "unknown_job" and delivery.job is None


def test_unsigned_refused_unless_allowed(client, job, settings):
    body = event("job-1")
    assert post(client, body, signature=None).status_code == 401
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_ALLOW_UNSIGNED": True}
    assert post(client, body, signature=None).status_code == 204


def test_no_secret_configured_refuses_and_names_the_setting(client, job, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_SECRETS": []}
    response = post(client, event("job-1"))
    assert response.status_code == 401 and "WEBHOOK_SECRETS" in response.json()["error"]


def test_only_post_is_allowed(client):
    assert client.get(URL).status_code == 405


def test_database_unavailable_answers_503(client, job, monkeypatch):
    from django.db import OperationalError

    from videogen.services import webhooks

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(webhooks, "job_apply_snapshot", down)
    response = post(client, event("job-1"))
    assert response.status_code == 503


def test_confirm_by_polling_trusts_the_provider_not_the_request(client, job, settings):
    import responses

    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    with responses.RequestsMock() as mock:
        mock.get(
            "https://openrouter.test/api/v1/videos/job-1",
            json={"id": "job-1", "polling_url": "/p", "status": "in_progress"},
        )
        assert post(client, event("job-1")).status_code == 204
    job.refresh_from_db()
    assert job.status == "in_progress"


def test_confirm_by_polling_failure_answers_503_so_the_provider_retries(client, job, settings):
    import responses

    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    with responses.RequestsMock() as mock:
        mock.get("https://openrouter.test/api/v1/videos/job-1", status=502)
        assert post(client, event("job-1")).status_code == 503
        mock.get(
            "https://openrouter.test/api/v1/videos/job-1",
            json={"id": "job-1", "polling_url": "/p", "status": "completed", "usage": {"cost": 2}},
        )
        assert post(client, event("job-1")).status_code == 204  # the retry is processed
    job.refresh_from_db()
    assert job.status == "completed" and job.cost == 2


text_or_bytes = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        text_or_bytes,
        st.builds(
            lambda s: event("job-1", status=s), st.sampled_from(["completed", "failed", "x"])
        ),
    ),
    signature=st.one_of(st.none(), st.text(max_size=120)),
    key=st.one_of(
        st.none(), st.text(max_size=50).filter(lambda s: "\n" not in s and "\r" not in s)
    ),
)
def test_fuzz_never_5xx_and_no_state_change_without_a_valid_signature(
    client, job, body, signature, key
):
    response = post(client, body, signature=signature, key=key)
    assert response.status_code < 500
    assert VideoJob.objects.get(pk=job.pk).status == "in_progress"
    assert not JobEvent.objects.filter(job=job).exists()
