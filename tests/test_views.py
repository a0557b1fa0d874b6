"""The webhook receiver, tested as a contract (anymail style) through a CSRF-enforcing client.

Every signature here is made by the tests' own signer (tests/webhook_signing.py).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
)
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_job
from tests.strategies import deep_json, edge_text, hostile_event
from tests.webhook_signing import OLD_SECRET, SECRET, event, sign
from videogen.models import JobEvent, UsageEntry, VideoJob, WebhookDelivery
from videogen.services.jobs.reconcile import reconcile_sweep

pytestmark = pytest.mark.django_db

URL = "/videogen/webhooks/openrouter/"
API = "https://openrouter.test/api/v1"
# A refused or unprocessable delivery keeps at most this much of its body (escaped).
EXCERPT_MAX = 200 * 4 + 1


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": API,
        "WEBHOOK_SECRETS": [SECRET, OLD_SECRET],
        "WEBHOOK_MAX_BODY_BYTES": 64 * 1024,
    }


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def job():
    return make_job(status="in_progress", provider_job_id="job-1", duration=8)


def post(
    client,
    body: bytes,
    signature: str | None = "sign",
    key: str | None = "auto",
    url: str = URL,
    **headers,
):
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
    return client.post(url, body, content_type="application/json", **headers)


def job_untouched(job) -> bool:
    job.refresh_from_db()
    return job.status == "in_progress" and not JobEvent.objects.filter(job=job).exists()


def test_url_is_reversible():
    assert reverse("videogen:openrouter-webhook") == URL


# --- the security contract ---------------------------------------------------------------------


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
    assert not delivery.idempotency_header_mismatch


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
        lambda body: "garbage",
        lambda body: "t=notanumber,v1=abc",
        lambda body: sign(body).split(",")[0],
        lambda body: f"t={'9' * 309},v1=ab",
        lambda body: f"t={int(time.time())},v1={'é' * 64}",
    ],
    ids=[
        "wrong",
        "stale",
        "future",
        "tampered",
        "garbage",
        "bad-ts",
        "no-v1",
        "309-digit-ts",
        "non-ascii-v1",
    ],
)
def test_bad_signatures_get_401_are_recorded_without_body_and_change_nothing(
    client, job, make_signature
):
    body = event("job-1", padding="p" * 5000)
    response = post(client, body, signature=make_signature(body))
    assert response.status_code == 401
    assert "signature" in response.json()["error"].lower()
    assert job_untouched(job)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.signature_valid, delivery.outcome) == (False, "rejected")
    assert delivery.error.startswith("Invalid webhook signature")
    assert delivery.idempotency_key is None  # a forgery never claims the real event's key
    # Not the body: a bounded, escaped excerpt.
    assert len(delivery.body) <= EXCERPT_MAX and body.decode().startswith(delivery.body[:100])


@pytest.mark.parametrize("signature", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_unsigned_requests_get_401_and_are_not_stored(client, job, signature):
    response = post(client, event("job-1", padding="p" * 60_000), signature=signature)
    assert response.status_code == 401
    assert "X-OpenRouter-Signature" in response.json()["error"]
    assert not WebhookDelivery.objects.exists()
    assert job_untouched(job)


def test_a_forged_event_cannot_block_the_real_one(client, job):
    body = event("job-1")
    post(client, body, signature=sign(body, "attacker"))
    assert post(client, body).status_code == 204
    job.refresh_from_db()
    assert job.status == "completed"


def test_within_tolerance_in_both_directions_is_accepted(client, job):
    body = event("job-1")
    for offset in (250, -250):
        signature = sign(body, timestamp=int(time.time()) + offset)
        assert post(client, body, signature=signature).status_code == 204


def test_unsigned_refused_unless_allowed(client, job, settings):
    body = event("job-1")
    assert post(client, body, signature=None).status_code == 401
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_ALLOW_UNSIGNED": True}
    assert post(client, body, signature=None).status_code == 204
    assert WebhookDelivery.objects.get().signature_valid is None


def test_no_secret_configured_refuses_and_names_the_setting(client, job, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_SECRETS": []}
    response = post(client, event("job-1"))
    assert response.status_code == 401 and "WEBHOOK_SECRETS" in response.json()["error"]


def test_secret_given_as_a_string_is_one_secret_not_one_per_character(client, job, settings):
    # Issue #13: list("whsec_…") made "w" a valid key, and a forgery signed with it a 204.
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_SECRETS": SECRET}
    body = event("job-1")
    for character in sorted(set(SECRET)):
        assert post(client, body, signature=sign(body, character)).status_code == 401
    assert job_untouched(job)
    assert post(client, body, signature=sign(body, SECRET)).status_code == 204


def test_only_post_is_allowed(client):
    assert client.get(URL).status_code == 405


def test_huge_body_gets_413_without_reading_it_all(client, job):
    body = b"{" + b" " * (70 * 1024) + b"}"
    response = post(client, body)
    assert response.status_code == 413
    assert "WEBHOOK_MAX_BODY_BYTES" in response.json()["error"]
    delivery = WebhookDelivery.objects.get()  # it carried a signature header: a trace, no body
    assert (delivery.outcome, delivery.body) == ("rejected", "")


def test_huge_unsigned_body_gets_413_and_is_not_stored(client, job):
    response = post(client, b"x" * (70 * 1024), signature=None)
    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


# --- behind any host's settings ----------------------------------------------------------------


def test_works_behind_login_required_middleware(client, job, settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    assert post(client, event("job-1")).status_code == 204
    assert post(client, event("job-1", status="failed"), signature="garbage").status_code == 401
    # The pages stay behind the login: only the webhook is exempt.
    assert client.get(reverse("videogen:workspaces")).status_code == 302


@pytest.fixture
def atomic_requests(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_site_applies_events_outside_a_request_transaction(
    client, job, atomic_requests, settings
):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    seen_in_transaction = []

    def provider(request):
        seen_in_transaction.append(connection.in_atomic_block)
        body = {"id": "job-1", "polling_url": "/p", "status": "failed", "error": "no"}
        return 200, {}, json.dumps(body)

    with responses.RequestsMock() as mock:
        mock.add_callback("GET", f"{API}/videos/job-1", callback=provider)
        assert post(client, event("job-1", status="failed")).status_code == 204
    # The provider was called with no transaction open (so no row lock held), and the
    # delivery and the job's change committed on their own.
    assert seen_in_transaction == [False]
    assert VideoJob.objects.get(pk=job.pk).status == "failed"
    assert WebhookDelivery.objects.get().outcome == "processed"


# --- deduplication bound to the signed body -----------------------------------------------------


def test_a_signed_body_cannot_claim_another_jobs_key_through_the_header(client, job):
    other = make_job(status="in_progress", provider_job_id="job-2", duration=8)
    # A genuine, signed event for job-1, replayed with job-2's idempotency key.
    swapped = post(client, event("job-1"), key="job-2-completed")
    assert swapped.status_code == 204
    first = WebhookDelivery.objects.get()
    assert first.idempotency_key == "job-1-completed" and first.idempotency_header_mismatch
    assert first.headers["X-OpenRouter-Idempotency-Key"] == "job-2-completed"
    # job-2's real event is applied, not dropped as a duplicate.
    assert post(client, event("job-2", cost=0.75)).status_code == 204
    other.refresh_from_db()
    assert other.status == "completed" and other.cost == Decimal("0.75")
    second = WebhookDelivery.objects.get(idempotency_key="job-2-completed")
    assert second.outcome == "processed" and not second.idempotency_header_mismatch


def test_the_key_falls_back_to_the_event_types_status(client, job):
    payload = json.loads(event("job-1", status="failed"))
    del payload["data"]["status"]
    assert post(client, json.dumps(payload).encode(), key=None).status_code == 204
    assert WebhookDelivery.objects.get().idempotency_key == "job-1-failed"
    job.refresh_from_db()
    assert job.status == "failed"


def test_an_unhandled_event_type_claims_no_key(client, job):
    body = event("job-1").replace(b"video.generation.completed", b"video.generation.upscaled")
    assert post(client, body).status_code == 204
    ignored = WebhookDelivery.objects.get()
    assert (ignored.outcome, ignored.idempotency_key) == ("ignored", None)
    assert job_untouched(job)
    assert post(client, event("job-1")).status_code == 204  # the real event is not a duplicate
    job.refresh_from_db()
    assert job.status == "completed"


def test_unknown_job_is_recorded_and_acknowledged(client):
    assert post(client, event("job-nobody-knows")).status_code == 204
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "unknown_job" and delivery.job is None


# --- never a 500, never a poison message --------------------------------------------------------


POISON = {
    "deep-nesting": event("job-1").replace(
        b'"is_byok": false', f'"is_byok": false, "x": {deep_json(500)}'.encode()
    ),
    "very-deep-nesting": event("job-1").replace(
        b'"is_byok": false', f'"is_byok": false, "x": {deep_json(30_000)}'.encode()
    ),
    "surrogate-in-id": event("job-1\ud800"),
    "nul-in-id": event("job-1\x00"),
    "nul-in-type": event("job-1").replace(
        b'"video.generation.completed"', b'"video.generation.completed\\u0000"'
    ),
    "control-in-error": event("job-1", status="failed", error="bad\x1bnews"),
    "nul-in-url": event("job-1", unsigned_urls=["https://sim.test/\x00"]),
    "nul-in-key": event("job-1", **{"bad\x00key": 1}),
    "long-generation-id": event("job-1", generation_id="g" * 201),
    "long-status": event("job-1").replace(
        b'"status": "completed"', b'"status": "' + b"s" * 33 + b'"'
    ),
    "long-type": event("job-1").replace(
        b'"video.generation.completed"', json.dumps("video.generation." + "c" * 90).encode()
    ),
    "long-polling-url": event("job-1", polling_url="https://x/" + "p" * 2000),
    "status-not-text": event("job-1", status=5),
    "cost-beyond-the-ledger": event("job-1").replace(b'"cost": 0.5', b'"cost": 1e400'),
    "cost-text-beyond-the-ledger": event("job-1").replace(b'"cost": 0.5', b'"cost": "1e12"'),
    "integer-beyond-64-bits": event("job-1").replace(
        b'"is_byok": false', b'"is_byok": false, "n": 1180591620717411303424'
    ),
    "integer-beyond-parsing": event("job-1").replace(
        b'"is_byok": false', b'"is_byok": false, "n": ' + b"1" * 5000
    ),
    "nan": event("job-1").replace(b'"cost": 0.5', b'"cost": NaN'),
    "not-json": b"not json",
    "not-utf8": b"\xff\xfe{}",
    "array": b"[]",
    "no-type": b'{"data": {"id": "job-1"}}',
    "no-data": b'{"type": "video.generation.completed"}',
    "no-id": b'{"type": "video.generation.completed", "data": {"status": "completed"}}',
}


@pytest.mark.parametrize("body", POISON.values(), ids=POISON.keys())
def test_a_signed_event_that_cannot_be_applied_is_acknowledged_and_recorded(client, job, body):
    first = post(client, body, key=None)
    assert first.status_code == 200, first.content
    assert "not applied" in first.json()["detail"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid) == ("unprocessable", True)
    assert delivery.error and delivery.idempotency_key is None
    assert len(delivery.body) <= EXCERPT_MAX
    assert "\x00" not in delivery.body and "\x00" not in delivery.error
    assert job_untouched(job)


def test_a_poison_event_leaves_the_job_to_the_poller(client, job):
    # Issue #12: a generation_id over 200 characters was a 503 on every retry.
    body = event("job-1", generation_id="g" * 201)
    assert post(client, body).status_code == 200
    assert job_untouched(job)
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    with responses.RequestsMock() as mock:
        mock.get(
            f"{API}/videos/job-1",
            json={"id": "job-1", "polling_url": "/p", "status": "completed", "usage": {"cost": 2}},
        )
        reconcile_sweep()
    job.refresh_from_db()
    assert job.status == "completed" and job.cost == 2
    assert WebhookDelivery.objects.get().outcome == "unprocessable"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic-requests"])
@pytest.mark.parametrize("error", [OperationalError, InterfaceError], ids=lambda e: e.__name__)
def test_database_unavailable_answers_503_keeps_the_delivery_and_the_retry_is_processed(
    client, job, monkeypatch, error, atomic
):
    from videogen.services.webhooks import receive as webhooks

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic)

    def down(**kwargs):
        raise error("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(webhooks, "job_apply_snapshot", down)
        assert post(client, event("job-1")).status_code == 503
    assert WebhookDelivery.objects.get().outcome == "received"  # kept for the retry
    assert post(client, event("job-1")).status_code == 204
    job.refresh_from_db()
    assert job.status == "completed"


@pytest.mark.parametrize(
    "error",
    [DataError, IntegrityError, ValueError, RecursionError, UnicodeEncodeError],
    ids=lambda e: e.__name__,
)
def test_an_error_caused_by_the_payload_is_never_a_5xx(client, job, monkeypatch, error):
    from videogen.services.webhooks import receive as webhooks

    def refuse(**kwargs):
        if error is UnicodeEncodeError:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        raise error("value too long for type character varying(32)")

    monkeypatch.setattr(webhooks, "job_apply_snapshot", refuse)
    response = post(client, event("job-1"))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "unprocessable" and error.__name__ in delivery.error
    assert post(client, event("job-1")).status_code == 204  # the retry: a duplicate
    assert job_untouched(job)


def test_confirm_by_polling_trusts_the_provider_not_the_request(client, job, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    with responses.RequestsMock() as mock:
        mock.get(
            f"{API}/videos/job-1",
            json={"id": "job-1", "polling_url": "/p", "status": "in_progress"},
        )
        assert post(client, event("job-1")).status_code == 204
    job.refresh_from_db()
    assert job.status == "in_progress"


def test_confirm_by_polling_failure_answers_503_so_the_provider_retries(client, job, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "WEBHOOK_CONFIRM_BY_POLLING": True}
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/videos/job-1", status=502)
        assert post(client, event("job-1")).status_code == 503
        mock.get(
            f"{API}/videos/job-1",
            json={"id": "job-1", "polling_url": "/p", "status": "completed", "usage": {"cost": 2}},
        )
        assert post(client, event("job-1")).status_code == 204  # the retry is processed
    job.refresh_from_db()
    assert job.status == "completed" and job.cost == 2


# --- the callback reference ---------------------------------------------------------------------


def test_the_callback_reference_is_stored_with_the_delivery(client, job):
    assert post(client, event("job-1"), url=f"{URL}?ref=tok_abc-123").status_code == 204
    assert WebhookDelivery.objects.get().callback_ref == "tok_abc-123"


@pytest.mark.parametrize(
    "query",
    ["ref=" + "r" * 129, "ref=%00abc", "ref=a%C2%85b", "ref=a%0Ab", "ref=a%1Bb"],
    ids=["too-long", "nul", "c1-control", "newline", "escape"],
)
def test_a_bad_callback_reference_is_ignored(client, job, query):
    assert post(client, event("job-1"), url=f"{URL}?{query}").status_code == 204
    assert WebhookDelivery.objects.get().callback_ref == ""
    job.refresh_from_db()
    assert job.status == "completed"


# --- properties -------------------------------------------------------------------------------

fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(
    body=st.one_of(
        st.binary(max_size=300),
        edge_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        hostile_event(),
        st.sampled_from([event("job-1"), event("job-1", status="failed")]),
    ),
    signature=st.one_of(
        st.none(),
        edge_text,
        st.builds(lambda t: f"t={t},v1={'a' * 64}", edge_text),
        st.builds(lambda t: f"t={int(time.time())},v1={t}", edge_text),
        st.just(f"t={'9' * 400},v1=ab"),
    ),
    key=st.one_of(st.none(), edge_text),
    forged_with=st.sampled_from([None, "attacker", "w"]),
)
def test_fuzz_unsigned_or_forged_requests_never_5xx_change_nothing_store_no_body(
    client, job, body, signature, key, forged_with
):
    if forged_with is not None:
        signature = sign(body, forged_with)
    before = set(WebhookDelivery.objects.values_list("pk", flat=True))
    response = post(client, body, signature=signature, key=key)
    assert response.status_code in (401, 413), response.content
    assert job_untouched(job)
    added = WebhookDelivery.objects.exclude(pk__in=before)
    if not (signature or "").strip():
        assert not added.exists()
    for delivery in added:
        assert delivery.outcome == "rejected" and delivery.idempotency_key is None
        assert len(delivery.body) <= EXCERPT_MAX


@fuzz
@given(body=hostile_event(), key=st.one_of(st.none(), edge_text))
def test_fuzz_signed_hostile_events_are_acknowledged_never_5xx(client, job, body, key):
    before = set(WebhookDelivery.objects.values_list("pk", flat=True))
    response = post(client, body, key=key)
    assert response.status_code in (200, 204), response.content
    added = list(WebhookDelivery.objects.exclude(pk__in=before))
    if response.status_code == 200:
        (delivery,) = added
        assert delivery.outcome == "unprocessable" and len(delivery.body) <= EXCERPT_MAX
    else:  # applied, or a duplicate of an event applied before
        assert all(d.outcome != "unprocessable" and d.body == body.decode() for d in added)
