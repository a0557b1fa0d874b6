"""OpenRouterVideoClient against the OpenAPI spec's examples, mocked at the HTTP edge."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
from django.test import override_settings
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

import videogen
from videogen.provider import client as client_module
from videogen.provider.client import (
    OpenRouterVideoClient,
    VideoContent,
    get_client,
    parse_retry_after,
    reset_client,
)
from videogen.provider.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderConnectionError,
    ProviderError,
    ProviderMalformedResponse,
    ProviderNotFound,
    ProviderPayloadTooLarge,
    ProviderPaymentRequired,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderTransientError,
)
from videogen.provider.types import VideoModelInfo, VideoStatus

from .conftest import API_KEY, BASE_URL

# --- the spec's examples -------------------------------------------------------------------

SPEC_REQUEST = {
    "aspect_ratio": "16:9",
    "duration": 8,
    "model": "google/veo-3.1",
    "prompt": "A serene mountain landscape at sunset",
    "resolution": "720p",
}
SPEC_CREATED = {
    "generation_id": "gen-xyz789",
    "id": "job-abc123",
    "polling_url": "/api/v1/videos/job-abc123",
    "status": "pending",
}
SPEC_COMPLETED = {
    "generation_id": "gen-xyz789",
    "id": "job-abc123",
    "polling_url": "/api/v1/videos/job-abc123",
    "status": "completed",
    "unsigned_urls": ["https://storage.example.com/video.mp4"],
    "usage": {"cost": 0.5},
}
SPEC_MODELS = {
    "data": [
        {
            "allowed_passthrough_parameters": [],
            "canonical_slug": "google/veo-3.1",
            "created": 1700000000,
            "description": "Google video generation model",
            "generate_audio": True,
            "id": "google/veo-3.1",
            "name": "Veo 3.1",
            "pricing_skus": {"generate": "0.50"},
            "seed": None,
            "supported_aspect_ratios": ["16:9"],
            "supported_durations": [5, 8],
            "supported_frame_images": ["first_frame", "last_frame"],
            "supported_resolutions": ["720p"],
            "supported_sizes": None,
        }
    ]
}

VIDEOS = f"{BASE_URL}/videos"
JOB_URL = f"{BASE_URL}/videos/job-abc123"
CONTENT_URL = f"{JOB_URL}/content"
MODELS_URL = f"{BASE_URL}/videos/models"


def error_body(code: int, message: str) -> dict:
    """The spec's error envelope (BadRequestResponse, UnauthorizedResponse, …)."""
    return {"error": {"code": code, "message": message}}


@pytest.fixture(autouse=True)
def _fresh_shared_client():
    reset_client()
    yield
    reset_client()


# --- create_video --------------------------------------------------------------------------


def test_create_video_posts_the_request_and_returns_the_pending_snapshot(
    video_client, mocked_responses
):
    mocked_responses.post(
        VIDEOS,
        json=SPEC_CREATED,
        status=202,
        match=[matchers.json_params_matcher(SPEC_REQUEST)],
    )

    snapshot = video_client.create_video(SPEC_REQUEST)

    assert snapshot.id == "job-abc123"
    assert snapshot.status is VideoStatus.PENDING
    assert snapshot.raw_status == "pending"
    assert snapshot.polling_url == "/api/v1/videos/job-abc123"
    assert snapshot.generation_id == "gen-xyz789"
    assert snapshot.usage is None
    assert snapshot.error is None
    assert not snapshot.is_terminal
    assert snapshot.raw == SPEC_CREATED


def test_create_video_sends_auth_user_agent_json_and_timeouts(video_client, mocked_responses):
    mocked_responses.post(VIDEOS, json=SPEC_CREATED, status=202)

    video_client.create_video(SPEC_REQUEST)

    request = mocked_responses.calls[0].request
    assert request.method == "POST"
    assert request.url == VIDEOS
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == (
        f"videogen/{videogen.__version__} python-requests/{requests.__version__}"
    )
    assert "HTTP-Referer" not in request.headers
    assert "X-Title" not in request.headers
    assert json.loads(request.body) == SPEC_REQUEST
    assert request.req_kwargs["timeout"] == (3.0, 20.0)
    assert request.req_kwargs["stream"] is False


def test_create_video_accepts_200(video_client, mocked_responses):
    mocked_responses.post(VIDEOS, json=SPEC_CREATED, status=200)
    assert video_client.create_video(SPEC_REQUEST).id == "job-abc123"


def test_create_video_serialises_decimals_as_json_numbers(video_client, mocked_responses):
    mocked_responses.post(VIDEOS, json=SPEC_CREATED, status=202)

    video_client.create_video({"model": "m", "duration": Decimal("8"), "upscale_factor": 1.5})

    sent = json.loads(mocked_responses.calls[0].request.body)
    assert sent == {"model": "m", "duration": 8, "upscale_factor": 1.5}
    assert isinstance(sent["duration"], int)


def test_create_video_accepts_any_mapping(video_client, mocked_responses):
    from types import MappingProxyType

    mocked_responses.post(
        VIDEOS,
        json=SPEC_CREATED,
        status=202,
        match=[matchers.json_params_matcher(SPEC_REQUEST)],
    )
    video_client.create_video(MappingProxyType(SPEC_REQUEST))


def test_attribution_headers_are_sent_when_configured(mocked_responses):
    mocked_responses.post(VIDEOS, json=SPEC_CREATED, status=202)
    with OpenRouterVideoClient(
        api_key=API_KEY,
        base_url=BASE_URL,
        app_url="https://videos.example.com",
        app_title="Example Videos",
    ) as client:
        client.create_video(SPEC_REQUEST)

    headers = mocked_responses.calls[0].request.headers
    assert headers["HTTP-Referer"] == "https://videos.example.com"
    assert headers["X-Title"] == "Example Videos"


def test_no_authorization_header_without_an_api_key(mocked_responses):
    mocked_responses.get(JOB_URL, json=SPEC_CREATED)
    with OpenRouterVideoClient(api_key=None, base_url=BASE_URL) as client:
        client.get_video("job-abc123")
    assert "Authorization" not in mocked_responses.calls[0].request.headers


@pytest.mark.parametrize(
    "base_url",
    [BASE_URL, BASE_URL + "/", BASE_URL + "//"],
    ids=["plain", "trailing-slash", "double-trailing-slash"],
)
def test_base_url_is_joined_without_double_slashes(base_url, mocked_responses):
    mocked_responses.get(MODELS_URL, json={"data": []})
    with OpenRouterVideoClient(api_key=API_KEY, base_url=base_url) as client:
        assert client.list_models() == []
    assert mocked_responses.calls[0].request.url == MODELS_URL


def test_session_pools_connections_without_retries(video_client):
    adapter = video_client.session.get_adapter(BASE_URL)
    assert adapter._pool_maxsize == 8
    assert adapter.max_retries.total == 0
    assert video_client.session.get_adapter("http://localhost:8000") is adapter


def test_repr_does_not_leak_the_api_key(video_client):
    assert API_KEY not in repr(video_client)
    assert BASE_URL in repr(video_client)


# --- get_video -----------------------------------------------------------------------------


def test_get_video_returns_the_completed_snapshot_with_decimal_cost(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, json=SPEC_COMPLETED)

    snapshot = video_client.get_video("job-abc123")

    assert snapshot.status is VideoStatus.COMPLETED
    assert snapshot.is_terminal
    assert snapshot.unsigned_urls == ("https://storage.example.com/video.mp4",)
    assert snapshot.usage is not None
    assert snapshot.usage.cost == Decimal("0.5")
    assert isinstance(snapshot.usage.cost, Decimal)
    assert snapshot.usage.is_byok is False
    request = mocked_responses.calls[0].request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.req_kwargs["timeout"] == (3.0, 20.0)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("0.1", Decimal("0.1")),
        ("0.30000000000000004", Decimal("0.30000000000000004")),
        ("1.23456789012345678901234567890", Decimal("1.23456789012345678901234567890")),
        ("2", Decimal("2")),
        ("1e-7", Decimal("1E-7")),
        ("null", None),
    ],
)
def test_cost_is_parsed_as_an_exact_decimal(video_client, mocked_responses, wire, expected):
    # Built by hand so the wire text is exactly what the provider would send.
    body = (
        '{"id": "job-abc123", "polling_url": "/api/v1/videos/job-abc123", '
        f'"status": "completed", "usage": {{"cost": {wire}, "is_byok": true}}}}'
    )
    mocked_responses.get(JOB_URL, body=body, content_type="application/json")

    usage = video_client.get_video("job-abc123").usage

    assert usage is not None
    assert usage.cost == expected
    if expected is not None:
        assert isinstance(usage.cost, Decimal)
        assert str(usage.cost) == str(expected)
    assert usage.is_byok is True


def test_get_video_quotes_the_job_id_as_one_path_segment(video_client, mocked_responses):
    mocked_responses.get(re.compile(re.escape(VIDEOS) + r"/.*"), json=SPEC_CREATED)

    video_client.get_video("job/../a b?c#d")

    request = mocked_responses.calls[0].request
    assert request.path_url == "/api/v1/videos/job%2F..%2Fa%20b%3Fc%23d"


@pytest.mark.parametrize("job_id", ["", ".", "..", None])
def test_get_video_rejects_ids_that_are_not_a_path_segment(video_client, mocked_responses, job_id):
    with pytest.raises(ValueError, match="invalid provider job id"):
        video_client.get_video(job_id)
    assert len(mocked_responses.calls) == 0


def test_unknown_status_becomes_unknown_and_is_logged(video_client, mocked_responses, caplog):
    mocked_responses.get(JOB_URL, json={**SPEC_CREATED, "status": "rendering_on_mars"})

    with caplog.at_level(logging.WARNING, logger="videogen.provider.types"):
        snapshot = video_client.get_video("job-abc123")

    assert snapshot.status is VideoStatus.UNKNOWN
    assert snapshot.raw_status == "rendering_on_mars"
    assert not snapshot.is_terminal
    assert "rendering_on_mars" in caplog.text


def test_failed_job_carries_the_provider_error(video_client, mocked_responses):
    mocked_responses.get(
        JOB_URL, json={**SPEC_CREATED, "status": "failed", "error": "content policy"}
    )
    snapshot = video_client.get_video("job-abc123")
    assert snapshot.status is VideoStatus.FAILED
    assert snapshot.error == "content policy"


def test_concurrent_polls_share_one_session(video_client, mocked_responses):
    for n in range(20):
        mocked_responses.get(f"{VIDEOS}/job-{n}", json={**SPEC_CREATED, "id": f"job-{n}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda n: video_client.get_video(f"job-{n}").id, range(20)))

    assert ids == [f"job-{n}" for n in range(20)]
    assert len(mocked_responses.calls) == 20


# --- malformed 2xx bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad gateway, but with a 200</html>",
        b"",
        b'{"id": "job-abc123", "status": "pending"',
        b"[1, 2, 3]",
        b'"job-abc123"',
        b'{"status": "pending", "polling_url": "/x"}',
        b'{"id": "", "status": "pending"}',
        b'{"id": "job-abc123", "polling_url": "/x"}',
        b'{"id": "job-abc123", "status": 3}',
        b'{"id": "job-abc123", "status": "completed", "usage": {"cost": NaN}}',
        b"\xff\xfe\x00garbage",
    ],
    ids=[
        "html",
        "empty",
        "truncated",
        "array",
        "string",
        "missing-id",
        "empty-id",
        "missing-status",
        "status-not-string",
        "nan-cost",
        "not-utf8",
    ],
)
def test_malformed_2xx_body_raises_malformed_response(video_client, mocked_responses, body):
    mocked_responses.get(JOB_URL, body=body, status=200, content_type="application/json")

    with pytest.raises(ProviderMalformedResponse) as excinfo:
        video_client.get_video("job-abc123")

    err = excinfo.value
    assert isinstance(err, ProviderTransientError)
    assert err.status_code == 200
    assert isinstance(err.__cause__, ValueError)
    assert isinstance(err.response_text, str)
    assert API_KEY not in str(err)


def test_malformed_create_response_chains_the_cause(video_client, mocked_responses):
    mocked_responses.post(VIDEOS, body="accepted!", status=202)

    with pytest.raises(ProviderMalformedResponse) as excinfo:
        video_client.create_video(SPEC_REQUEST)

    assert excinfo.value.status_code == 202
    assert excinfo.value.response_text == "accepted!"
    assert isinstance(excinfo.value.__cause__, json.JSONDecodeError)


# --- error statuses ------------------------------------------------------------------------

ERROR_CASES = [
    (400, ProviderBadRequest, "Invalid request parameters"),
    (401, ProviderAuthError, "Missing Authentication header"),
    (
        402,
        ProviderPaymentRequired,
        "Insufficient credits. Add more using https://openrouter.ai/credits",
    ),
    (403, ProviderAuthError, "Forbidden"),
    (404, ProviderNotFound, "Resource not found"),
    (408, ProviderTimeout, "Request timeout"),
    (409, ProviderBadRequest, "Conflict"),
    (413, ProviderPayloadTooLarge, "Request body too large"),
    (418, ProviderBadRequest, "I'm a teapot"),
    (422, ProviderBadRequest, "Unprocessable"),
    (429, ProviderRateLimited, "Rate limit exceeded"),
    (500, ProviderServerError, "Internal Server Error"),
    (502, ProviderServerError, "Provider returned error"),
    (503, ProviderServerError, "Service Unavailable"),
    (504, ProviderServerError, "Gateway Timeout"),
]
TRANSIENT = {408, 429, 500, 502, 503, 504}


@pytest.mark.parametrize(("status", "error_class", "message"), ERROR_CASES)
def test_error_status_is_translated_with_the_spec_message(
    video_client, mocked_responses, status, error_class, message
):
    body = error_body(status, message)
    mocked_responses.post(VIDEOS, json=body, status=status)

    with pytest.raises(error_class) as excinfo:
        video_client.create_video(SPEC_REQUEST)

    err = excinfo.value
    assert err.status_code == status
    assert err.message == message
    assert str(err) == f"{status} {message}"
    assert json.loads(err.response_text) == body
    assert err.retry_after is None
    assert isinstance(err, ProviderTransientError) is (status in TRANSIENT)
    assert err.__cause__ is None


@pytest.mark.parametrize(("status", "error_class", "message"), ERROR_CASES)
def test_error_status_on_get_video(video_client, mocked_responses, status, error_class, message):
    mocked_responses.get(JOB_URL, json=error_body(status, message), status=status)
    with pytest.raises(error_class) as excinfo:
        video_client.get_video("job-abc123")
    assert excinfo.value.status_code == status


def test_unexpected_non_2xx_status_is_a_plain_provider_error(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, body="", status=304)
    with pytest.raises(ProviderError) as excinfo:
        video_client.get_video("job-abc123")
    assert type(excinfo.value) is ProviderError
    assert excinfo.value.status_code == 304


def test_error_without_json_uses_the_response_text(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, body="<html>\n  <h1>502 Bad   Gateway</h1>\n</html>", status=502)
    with pytest.raises(ProviderServerError) as excinfo:
        video_client.get_video("job-abc123")
    err = excinfo.value
    assert err.status_code == 502
    assert err.message == "<html> <h1>502 Bad Gateway</h1> </html>"
    assert err.response_text.startswith("<html>")


def test_error_text_is_truncated(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, body="x" * 100_000, status=500)
    with pytest.raises(ProviderServerError) as excinfo:
        video_client.get_video("job-abc123")
    err = excinfo.value
    assert len(err.message) <= client_module.MESSAGE_LIMIT + 1
    assert len(err.response_text) <= client_module.RESPONSE_TEXT_LIMIT + 1


def test_error_with_empty_body_uses_the_reason_phrase(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, body="", status=503)
    with pytest.raises(ProviderServerError) as excinfo:
        video_client.get_video("job-abc123")
    assert excinfo.value.message == "Service Unavailable"
    assert excinfo.value.response_text == ""


@pytest.mark.parametrize(
    "body",
    [{"error": "plain string error"}, {"message": "plain string error"}],
)
def test_error_message_variants(video_client, mocked_responses, body):
    mocked_responses.get(JOB_URL, json=body, status=400)
    with pytest.raises(ProviderBadRequest, match="plain string error"):
        video_client.get_video("job-abc123")


def test_429_with_retry_after_seconds(video_client, mocked_responses):
    mocked_responses.get(
        JOB_URL,
        json=error_body(429, "Rate limit exceeded"),
        status=429,
        headers={"Retry-After": "17"},
    )
    with pytest.raises(ProviderRateLimited) as excinfo:
        video_client.get_video("job-abc123")
    assert excinfo.value.retry_after == 17.0
    assert excinfo.value.status_code == 429


def test_429_with_retry_after_http_date(video_client, mocked_responses):
    when = datetime.now(UTC) + timedelta(seconds=120)
    mocked_responses.post(
        VIDEOS,
        json=error_body(429, "Rate limit exceeded"),
        status=429,
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    with pytest.raises(ProviderRateLimited) as excinfo:
        video_client.create_video(SPEC_REQUEST)
    assert 110 <= excinfo.value.retry_after <= 120


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "Thu, 99 Foo 2024"])
def test_429_with_missing_or_garbage_retry_after(video_client, mocked_responses, header):
    headers = {"Retry-After": header} if header is not None else {}
    mocked_responses.get(
        JOB_URL, json=error_body(429, "Rate limit exceeded"), status=429, headers=headers
    )
    with pytest.raises(ProviderRateLimited) as excinfo:
        video_client.get_video("job-abc123")
    assert excinfo.value.retry_after is None


def test_503_keeps_retry_after_too(video_client, mocked_responses):
    mocked_responses.get(JOB_URL, body="down", status=503, headers={"Retry-After": "30"})
    with pytest.raises(ProviderServerError) as excinfo:
        video_client.get_video("job-abc123")
    assert excinfo.value.status_code == 503
    assert excinfo.value.retry_after == 30.0


NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 45 ", 45.0),
        ("1.5", 1.5),
        ("-1", None),
        ("inf", None),
        ("nan", None),
        ("tomorrow", None),
        ("Wed, 01 Jan 2025 12:02:00 GMT", 120.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),
        ("Wed, 01 Jan 2025 12:00:30 -0000", 30.0),
        ("Wed, 01 Jan 2025 13:00:10 +0100", 10.0),
        ("Wed, 32 Jan 2025 12:00:00 GMT", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


# --- transport failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
    ids=["connect", "read"],
)
def test_timeouts_raise_provider_timeout(video_client, mocked_responses, exc):
    mocked_responses.get(JOB_URL, body=exc)

    with pytest.raises(ProviderTimeout) as excinfo:
        video_client.get_video("job-abc123")

    err = excinfo.value
    assert err.__cause__ is exc
    assert err.status_code is None
    assert err.response_text == ""
    assert isinstance(err, ProviderTransientError)


def test_connection_reset_raises_provider_connection_error(video_client, mocked_responses):
    reset = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )
    mocked_responses.post(VIDEOS, body=reset)

    with pytest.raises(ProviderConnectionError) as excinfo:
        video_client.create_video(SPEC_REQUEST)

    assert excinfo.value.__cause__ is reset
    assert excinfo.value.status_code is None
    assert isinstance(excinfo.value, ProviderTransientError)


def test_refused_connection_raises_provider_connection_error(video_client, mocked_responses):
    refused = requests.exceptions.ConnectionError("Connection refused")
    mocked_responses.get(MODELS_URL, body=refused)
    with pytest.raises(ProviderConnectionError) as excinfo:
        video_client.list_models()
    assert excinfo.value.__cause__ is refused


def test_other_request_errors_become_provider_errors(video_client, mocked_responses):
    redirects = requests.exceptions.TooManyRedirects("loop")
    mocked_responses.get(JOB_URL, body=redirects)
    with pytest.raises(ProviderError) as excinfo:
        video_client.get_video("job-abc123")
    assert not isinstance(excinfo.value, ProviderTransientError)
    assert excinfo.value.__cause__ is redirects


# --- may the failed request have been processed? ----------------------------------------------


def _refused() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/videos", reason=reason))


def _reset() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )


@pytest.mark.parametrize(
    ("answer", "processed"),
    [
        ({"body": requests.exceptions.ConnectTimeout("connect timed out")}, False),
        ({"body": _refused()}, False),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, True),
        ({"body": _reset()}, True),
        ({"body": requests.exceptions.ChunkedEncodingError("cut")}, True),
        ({"body": requests.exceptions.SSLError("handshake or record error")}, True),
        ({"status": 400, "json": {"error": {"code": 400, "message": "bad"}}}, False),
        ({"status": 402, "json": {"error": {"code": 402, "message": "credits"}}}, False),
        ({"status": 422, "body": "not even JSON"}, False),
        ({"status": 429, "json": {"error": {"code": 429, "message": "slow"}}}, False),
        ({"status": 500, "json": {"error": {"code": 500, "message": "Internal"}}}, False),
        ({"status": 502, "json": {"error": {"code": 502, "message": "Provider error"}}}, False),
        ({"status": 502, "body": "<html>502 Bad Gateway</html>"}, True),
        ({"status": 500, "json": {"error": "a string, not the documented object"}}, True),
        ({"status": 504, "body": ""}, True),
        ({"status": 202, "body": '{"id": "job-'}, True),
    ],
)
def test_every_failure_says_whether_the_provider_may_have_processed_the_request(
    video_client, mocked_responses, answer, processed
):
    mocked_responses.post(VIDEOS, **answer)
    with pytest.raises(ProviderError) as excinfo:
        video_client.create_video(SPEC_REQUEST)
    assert excinfo.value.may_have_been_processed is processed
    assert excinfo.value.provider_job_id is None


def test_a_connection_refused_by_a_real_socket_proves_nothing_was_sent(unused_port):
    with OpenRouterVideoClient(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{unused_port}/api/v1"
    ) as client:
        with pytest.raises(ProviderConnectionError) as excinfo:
            client.create_video(SPEC_REQUEST)
    assert excinfo.value.may_have_been_processed is False


@pytest.mark.parametrize(
    "body", [{"id": "job-odd"}, {"id": "job-odd", "status": 3}, {"id": "job-odd", "status": None}]
)
def test_a_2xx_that_names_its_job_keeps_the_id_on_the_error(video_client, mocked_responses, body):
    mocked_responses.post(VIDEOS, json=body, status=202)
    with pytest.raises(ProviderMalformedResponse) as excinfo:
        video_client.create_video(SPEC_REQUEST)
    assert excinfo.value.provider_job_id == "job-odd"
    assert excinfo.value.may_have_been_processed


# --- get_generation --------------------------------------------------------------------------

GENERATION_URL = f"{BASE_URL}/generation"


def test_get_generation_reads_the_total_cost_as_decimal(video_client, mocked_responses):
    mocked_responses.get(
        GENERATION_URL,
        body='{"data": {"id": "gen-1", "total_cost": 0.1, "model": "google/veo-3.1"}}',
        match=[matchers.query_param_matcher({"id": "gen-1"})],
    )
    record = video_client.get_generation("gen-1")
    assert (record.id, record.total_cost, record.model) == (
        "gen-1",
        Decimal("0.1"),
        "google/veo-3.1",
    )


@pytest.mark.parametrize("body", ['{"data": null}', "[]", '{"data": {"total_cost": 1}}'])
def test_get_generation_malformed(video_client, mocked_responses, body):
    mocked_responses.get(GENERATION_URL, body=body)
    with pytest.raises(ProviderMalformedResponse):
        video_client.get_generation("gen-1")


def test_get_generation_not_found(video_client, mocked_responses):
    mocked_responses.get(
        GENERATION_URL, status=404, json={"error": {"code": 404, "message": "Not found"}}
    )
    with pytest.raises(ProviderNotFound):
        video_client.get_generation("gen-1")


# --- list_models ---------------------------------------------------------------------------


def test_list_models_parses_the_spec_example(video_client, mocked_responses):
    mocked_responses.get(MODELS_URL, json=SPEC_MODELS)

    models = video_client.list_models()

    assert len(models) == 1
    model = models[0]
    assert isinstance(model, VideoModelInfo)
    assert model.id == "google/veo-3.1"
    assert model.canonical_slug == "google/veo-3.1"
    assert model.name == "Veo 3.1"
    assert model.description == "Google video generation model"
    assert model.created == 1700000000
    assert model.supported_durations == (5, 8)
    assert model.supported_resolutions == ("720p",)
    assert model.supported_aspect_ratios == ("16:9",)
    assert model.supported_sizes is None
    assert model.supported_frame_images == ("first_frame", "last_frame")
    assert model.generate_audio is True
    assert model.seed is None
    assert model.pricing_skus == {"generate": "0.50"}
    assert model.allowed_passthrough_parameters == ()
    request = mocked_responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.req_kwargs["timeout"] == (3.0, 20.0)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": {"id": "google/veo-3.1"}},
        {"data": [{"name": "no id"}]},
        {"data": ["google/veo-3.1"]},
        [],
    ],
    ids=["no-data", "null-data", "object-data", "entry-without-id", "entry-not-object", "array"],
)
def test_list_models_malformed(video_client, mocked_responses, body):
    mocked_responses.get(MODELS_URL, json=body)
    with pytest.raises(ProviderMalformedResponse) as excinfo:
        video_client.list_models()
    assert excinfo.value.status_code == 200


def test_list_models_server_error(video_client, mocked_responses):
    mocked_responses.get(MODELS_URL, json=error_body(500, "Internal Server Error"), status=500)
    with pytest.raises(ProviderServerError, match="Internal Server Error"):
        video_client.list_models()


# --- streamed content ----------------------------------------------------------------------


class _ReadCounter(io.RawIOBase):
    """A response body that counts what was read and can fail after ``fail_after`` bytes."""

    def __init__(
        self, data: bytes, *, fail_after: int | None = None, error: Exception | None = None
    ):
        self.data = data
        self.pos = 0
        self.fail_after = fail_after
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise self.error
        n = min(len(buffer), len(self.data) - self.pos)
        if self.fail_after is not None:
            n = min(n, self.fail_after - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def _stream_body(data: bytes, **kwargs) -> tuple[_ReadCounter, io.BufferedReader]:
    raw = _ReadCounter(data, **kwargs)
    return raw, io.BufferedReader(raw, buffer_size=4)


def test_iter_content_streams_in_chunks(video_client, mocked_responses):
    video = bytes(range(256)) * 40  # 10 KiB
    raw, body = _stream_body(video)
    mocked_responses.get(
        CONTENT_URL,
        body=body,
        headers={"Content-Length": str(len(video))},
        content_type="video/mp4",
        match=[matchers.query_param_matcher({"index": "0"})],
    )

    with video_client.iter_content("job-abc123", chunk_size=4096) as content:
        assert isinstance(content, VideoContent)
        assert content.content_type == "video/mp4"
        assert content.content_length == len(video)
        assert content.status_code == 200
        assert raw.pos == 0, "the body must not be read before it is iterated"
        chunks = list(content.iter_chunks())

    assert [len(c) for c in chunks] == [4096, 4096, 2048]
    assert b"".join(chunks) == video
    request = mocked_responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Accept"] == "*/*"
    assert request.req_kwargs["stream"] is True
    assert request.req_kwargs["timeout"] == (3.0, 20.0)


def test_iter_content_reads_lazily(video_client, mocked_responses):
    raw, body = _stream_body(b"a" * 1000)
    mocked_responses.get(CONTENT_URL, body=body, content_type="video/mp4")

    with video_client.iter_content("job-abc123", chunk_size=100) as content:
        chunks = content.iter_chunks()
        first = next(chunks)
        assert len(first) == 100
        assert raw.pos < 1000

    assert content._response.raw.closed


def test_iter_content_passes_the_index_and_quotes_the_id(video_client, mocked_responses):
    mocked_responses.get(
        f"{VIDEOS}/job%2Fx/content",
        body=b"video",
        content_type="video/webm",
        match=[matchers.query_param_matcher({"index": "2"})],
    )
    with video_client.iter_content("job/x", index=2) as content:
        assert b"".join(content) == b"video"
        assert content.content_type == "video/webm"
        assert content.content_length is None


@pytest.mark.parametrize("index", [-1, True, "1", 1.0, None])
def test_iter_content_rejects_a_bad_index(video_client, mocked_responses, index):
    with pytest.raises(ValueError, match="index"):
        video_client.iter_content("job-abc123", index=index)


def test_iter_content_rejects_a_bad_chunk_size(video_client, mocked_responses):
    with pytest.raises(ValueError, match="chunk_size"):
        video_client.iter_content("job-abc123", chunk_size=0)


@pytest.mark.parametrize(
    ("status", "error_class", "message"),
    [
        (400, ProviderBadRequest, "Invalid request parameters"),
        (401, ProviderAuthError, "Missing Authentication header"),
        (404, ProviderNotFound, "Resource not found"),
        (500, ProviderServerError, "Internal Server Error"),
        (502, ProviderServerError, "Provider returned error"),
    ],
)
def test_iter_content_errors_raise_before_streaming(
    video_client, mocked_responses, status, error_class, message
):
    mocked_responses.get(CONTENT_URL, json=error_body(status, message), status=status)
    with pytest.raises(error_class) as excinfo:
        video_client.iter_content("job-abc123")
    assert excinfo.value.status_code == status
    assert excinfo.value.message == message


def test_iter_content_error_body_is_read_only_in_part(video_client, mocked_responses):
    raw, body = _stream_body(b"e" * 1_000_000)
    mocked_responses.get(CONTENT_URL, body=body, status=502)
    with pytest.raises(ProviderServerError) as excinfo:
        video_client.iter_content("job-abc123")
    assert raw.pos < 100_000
    assert len(excinfo.value.response_text) <= client_module.RESPONSE_TEXT_LIMIT + 1


def test_iter_content_connection_lost_mid_stream(video_client, mocked_responses):
    _, body = _stream_body(
        b"v" * 100, fail_after=40, error=ConnectionResetError(104, "Connection reset by peer")
    )
    mocked_responses.get(CONTENT_URL, body=body, content_type="video/mp4")

    received = b""
    with (
        video_client.iter_content("job-abc123", chunk_size=10) as content,
        pytest.raises(ProviderConnectionError) as excinfo,
    ):
        for chunk in content.iter_chunks():
            received += chunk

    assert received == b"v" * 40
    assert isinstance(excinfo.value.__cause__, requests.RequestException)


def test_iter_content_read_timeout_mid_stream(video_client, mocked_responses):
    _, body = _stream_body(b"v" * 100, fail_after=20, error=TimeoutError("timed out"))
    mocked_responses.get(CONTENT_URL, body=body, content_type="video/mp4")

    with (
        video_client.iter_content("job-abc123", chunk_size=10) as content,
        pytest.raises(ProviderTimeout) as excinfo,
    ):
        list(content.iter_chunks())

    assert isinstance(excinfo.value.__cause__, requests.ConnectionError)


# --- logging -------------------------------------------------------------------------------


def test_each_call_is_logged_at_debug_without_the_key(video_client, mocked_responses, caplog):
    mocked_responses.get(JOB_URL, json=SPEC_CREATED)
    mocked_responses.get(MODELS_URL, json=error_body(500, "boom"), status=500)
    mocked_responses.post(VIDEOS, body=requests.exceptions.ReadTimeout("slow"))

    with caplog.at_level(logging.DEBUG, logger="videogen.provider.client"):
        video_client.get_video("job-abc123")
        with pytest.raises(ProviderServerError):
            video_client.list_models()
        with pytest.raises(ProviderTimeout):
            video_client.create_video(SPEC_REQUEST)

    messages = [r.getMessage() for r in caplog.records if r.name == "videogen.provider.client"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name.endswith("client"))
    assert re.search(r"GET /videos/job-abc123 -> 200 in \d+ ms", messages[0])
    assert re.search(r"GET /videos/models -> 500 in \d+ ms", messages[1])
    assert re.search(r"POST /videos failed after \d+ ms: ReadTimeout", messages[2])
    assert API_KEY not in caplog.text


# --- the shared client ---------------------------------------------------------------------


def test_get_client_is_built_from_settings_and_cached(videogen_settings_for_tests):
    client = get_client()

    assert get_client() is client
    assert client.base_url == BASE_URL
    assert client.timeout == (2.5, 12.0)
    assert client.session.get_adapter(BASE_URL)._pool_maxsize == 7
    headers = client.session.headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["HTTP-Referer"] == "https://videos.example.com"
    assert headers["X-Title"] == "Example Videos"


def test_get_client_uses_defaults_without_videogen_settings(settings):
    settings.VIDEOGEN = {}
    client = get_client()
    assert client.base_url == "https://openrouter.ai/api/v1"
    assert client.timeout == (5.0, 30.0)
    assert "Authorization" not in client.session.headers


def test_get_client_is_reset_when_settings_change(videogen_settings_for_tests, monkeypatch):
    first = get_client()
    closed = []
    original_close = first.close
    monkeypatch.setattr(first, "close", lambda: (closed.append(True), original_close()))

    with override_settings(
        VIDEOGEN={**videogen_settings_for_tests, "BASE_URL": "http://sim:8000/"}
    ):
        assert closed == [True]
        second = get_client()
        assert second is not first
        assert second.base_url == "http://sim:8000"

    third = get_client()
    assert third is not second
    assert third.base_url == BASE_URL


def test_get_client_sees_the_new_settings_in_requests(
    videogen_settings_for_tests, mocked_responses
):
    mocked_responses.get("http://sim:8000/api/v1/videos/job-abc123", json=SPEC_CREATED)
    get_client()  # cached with the old settings
    with override_settings(
        VIDEOGEN={**videogen_settings_for_tests, "BASE_URL": "http://sim:8000/api/v1"}
    ):
        assert get_client().get_video("job-abc123").id == "job-abc123"


def test_reset_client_without_a_client_is_harmless():
    reset_client()
    reset_client()


def test_get_client_is_thread_safe(videogen_settings_for_tests, monkeypatch):
    built = []
    original = OpenRouterVideoClient.from_settings.__func__
    barrier = threading.Barrier(16)

    def slow_from_settings(cls):
        built.append(1)
        return original(cls)

    monkeypatch.setattr(OpenRouterVideoClient, "from_settings", classmethod(slow_from_settings))

    def worker(_):
        barrier.wait()
        return get_client()

    with ThreadPoolExecutor(max_workers=16) as pool:
        clients = list(pool.map(worker, range(16)))

    assert len(built) == 1
    assert all(c is clients[0] for c in clients)


def test_responses_module_refuses_unregistered_requests(video_client, mocked_responses):
    # Guard for this suite: an unmatched request must not pass silently as a mocked answer.
    with pytest.raises(ProviderConnectionError) as excinfo:
        video_client.get_video("not-registered")
    assert isinstance(excinfo.value.__cause__, requests.ConnectionError)
    assert "not-registered" in str(excinfo.value.__cause__)


# --- the environment (proxies), read once ----------------------------------------------------


@pytest.fixture
def forward_proxy():
    """A plain HTTP forward proxy stand-in on 127.0.0.1: it answers every request itself
    with the spec's completed job and records the request line (absolute URI when proxied)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = json.dumps(SPEC_COMPLETED).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _clear_proxy_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_proxy_from_the_environment_carries_the_requests(monkeypatch, forward_proxy):
    proxy_url, seen = forward_proxy
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    with OpenRouterVideoClient(api_key=API_KEY, base_url="http://openrouter.invalid/api/v1") as c:
        snapshot = c.get_video("job-abc123")
    assert snapshot.status is VideoStatus.COMPLETED
    assert seen == ["http://openrouter.invalid/api/v1/videos/job-abc123"]


def test_the_proxy_is_resolved_once_when_the_client_is_built(monkeypatch, forward_proxy):
    proxy_url, seen = forward_proxy
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    with OpenRouterVideoClient(api_key=API_KEY, base_url="http://openrouter.invalid/api/v1") as c:
        # Requests no longer read the environment: the proxy chosen at creation stays.
        monkeypatch.delenv("HTTP_PROXY")
        c.get_video("job-1")
        c.get_video("job-2")
    assert seen == [
        "http://openrouter.invalid/api/v1/videos/job-1",
        "http://openrouter.invalid/api/v1/videos/job-2",
    ]


def test_no_proxy_keeps_the_api_host_direct(monkeypatch, forward_proxy):
    proxy_url, seen = forward_proxy
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing there: must not be used
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with OpenRouterVideoClient(api_key=API_KEY, base_url=f"{proxy_url}/api/v1") as c:
        c.get_video("job-abc123")
    assert seen == ["/api/v1/videos/job-abc123"]  # a direct request (origin form)


def test_requests_do_not_reread_the_environment(monkeypatch):
    """``requests`` with ``trust_env`` reads proxies and ``.netrc`` on every call."""
    _clear_proxy_environment(monkeypatch)
    calls = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions, "get_environ_proxies", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", lambda *a, **k: calls.append(a))
    client = OpenRouterVideoClient(api_key=API_KEY, base_url=BASE_URL)
    with client, responses_mock() as rsps:
        rsps.get(JOB_URL, json=SPEC_COMPLETED)
        client.get_video("job-abc123")
    assert calls == []


def responses_mock():
    import responses

    return responses.RequestsMock(assert_all_requests_are_fired=True)


# --- the poll's plain GET -------------------------------------------------------------------


def test_a_poll_sends_the_sessions_headers_and_timeouts(mocked_responses):
    mocked_responses.get(JOB_URL, json=SPEC_COMPLETED)
    with OpenRouterVideoClient(
        api_key=API_KEY,
        base_url=BASE_URL,
        read_timeout=20.0,
        connect_timeout=3.0,
        app_url="https://videos.example.com",
        app_title="Example Videos",
    ) as client:
        client.get_video("job-abc123")
    request = mocked_responses.calls[0].request
    assert (request.method, request.url, request.body) == ("GET", JOB_URL, None)
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == client_module.user_agent()
    assert request.headers["HTTP-Referer"] == "https://videos.example.com"
    assert request.headers["X-Title"] == "Example Videos"
    assert request.req_kwargs["timeout"] == (3.0, 20.0)


def test_a_poll_follows_a_redirect(video_client, mocked_responses):
    moved = f"{BASE_URL}/v2/videos/job-abc123"
    mocked_responses.get(JOB_URL, status=307, headers={"Location": moved})
    mocked_responses.get(moved, json=SPEC_COMPLETED)
    assert video_client.get_video("job-abc123").status is VideoStatus.COMPLETED
    assert [call.request.url for call in mocked_responses.calls] == [JOB_URL, JOB_URL, moved]


@pytest.mark.parametrize("base_url", ["https://bücher.example/api/v1", "https://x.test/a b"])
def test_a_base_url_requests_would_rewrite_takes_the_full_path(base_url, mocked_responses):
    with OpenRouterVideoClient(api_key=API_KEY, base_url=base_url) as client:
        prepared = requests.Request("GET", client.url("/videos/job-1")).prepare().url
        mocked_responses.get(prepared, json={**SPEC_CREATED, "id": "job-1"})
        assert client.get_video("job-1").id == "job-1"
