"""The one class that speaks HTTP to OpenRouter's video API.

``OpenRouterVideoClient`` owns a single pooled ``requests.Session`` (safe to share between the
threads of a polling pool), the timeouts, a versioned User-Agent, JSON decoding with money as
``Decimal`` and the translation of every failure into the ``ProviderError`` tree. Nothing else
in videogen imports ``requests`` for the provider: services call ``get_client()``.

Settings are read when the client is first needed (never at import time), and ``reset_client()``
drops the cached client when ``VIDEOGEN`` changes (a ``setting_changed`` receiver below: a
client that was never built needs no reset, so this module wires itself).
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, NoReturn, Self
from urllib.parse import quote

import requests
from django.core.signals import setting_changed
from django.dispatch import receiver
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError

import videogen
from videogen.conf import videogen_settings
from videogen.provider.adapter import ProviderAdapter
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
)
from videogen.provider.polling import Item, Outcome, PollRun, VideoPoller
from videogen.provider.types import GenerationRecord, VideoJobSnapshot, VideoModelInfo

logger = logging.getLogger(__name__)

__all__ = [
    "OpenRouterVideoClient",
    "VideoContent",
    "get_client",
    "parse_retry_after",
    "reset_client",
]

# How much of an error body is kept on the exception, and how much goes into its message.
RESPONSE_TEXT_LIMIT = 2000
MESSAGE_LIMIT = 300
# Distinct hosts the pooled session keeps connections for (the API, plus redirect targets).
POOL_CONNECTIONS = 4

_STATUS_ERRORS: dict[int, type[ProviderError]] = {
    400: ProviderBadRequest,
    401: ProviderAuthError,
    403: ProviderAuthError,
    402: ProviderPaymentRequired,
    404: ProviderNotFound,
    408: ProviderTimeout,
    413: ProviderPayloadTooLarge,
    429: ProviderRateLimited,
}


def user_agent() -> str:
    return f"videogen/{videogen.__version__} python-requests/{requests.__version__}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    Returns ``None`` when the header is absent or unreadable; a date in the past gives ``0.0``.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None for garbage
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"JSON constant {name} is not allowed")


def _decode_json(content: bytes) -> Any:
    """Decode a JSON body with every non-integer number as ``Decimal`` (money stays exact)."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _error_message(status: int, reason: str | None, text: str) -> str:
    """The provider's ``{"error": {"code", "message"}}`` message, else the body's text."""
    try:
        body = _decode_json(text.encode())
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _truncate(str(error["message"]), MESSAGE_LIMIT)
        if isinstance(error, str) and error:
            return _truncate(error, MESSAGE_LIMIT)
        if isinstance(body.get("message"), str) and body["message"]:
            return _truncate(body["message"], MESSAGE_LIMIT)
    text = " ".join(text.split())
    if text:
        return _truncate(text, MESSAGE_LIMIT)
    return reason or f"HTTP {status}"


def is_documented_error_body(text: str) -> bool:
    """The provider's own error shape, ``{"error": {"code": <int>, "message": <str>}}``.

    An answer in this shape comes from OpenRouter itself, which refused the request; any
    other 5xx body (a gateway's HTML page, a cut-off reply) may follow a request it processed.
    """
    try:
        body = _decode_json(text.encode())
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and not isinstance(error.get("code"), bool)
        and isinstance(error.get("message"), str)
    )


def _error_for_status(response: requests.Response, text: str) -> ProviderError:
    return error_for_answer(
        response.status_code, response.reason, response.headers.get("Retry-After"), text
    )


def error_for_answer(
    status: int, reason: str | None, retry_after: str | None, text: str
) -> ProviderError:
    """The ``ProviderError`` for an answer that is not a 2xx (both transports use it)."""
    if status >= 500:
        cls: type[ProviderError] = ProviderServerError
    elif status in _STATUS_ERRORS:
        cls = _STATUS_ERRORS[status]
    elif 400 <= status < 500:
        cls = ProviderBadRequest
    else:  # 1xx/3xx that requests did not resolve
        cls = ProviderError
    # A 4xx is the provider refusing the request; a 5xx proves nothing unless the body is the
    # provider's own documented error.
    processed = (status >= 500 and not is_documented_error_body(text)) or status < 400
    return cls(
        _error_message(status, reason, text),
        status_code=status,
        response_text=_truncate(text, RESPONSE_TEXT_LIMIT),
        retry_after=parse_retry_after(retry_after),
        may_have_been_processed=processed,
    )


def _never_sent(err: requests.RequestException) -> bool:
    """True only when the failure proves no byte of the request reached the server: the
    connection itself could not be made (refused, unreachable, timed out while connecting)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError) and err.args:
        cause = err.args[0]
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError.
        return isinstance(cause, ConnectTimeoutError)
    return False


def _translate_request_exception(err: requests.RequestException, what: str) -> ProviderError:
    processed = not _never_sent(err)
    # ConnectTimeout is both a Timeout and a ConnectionError: timeouts are checked first.
    if isinstance(err, requests.Timeout) or (
        isinstance(err, requests.ConnectionError)
        and err.args
        and isinstance(err.args[0], ReadTimeoutError)
    ):
        return ProviderTimeout(f"{what} timed out: {err}", may_have_been_processed=processed)
    if isinstance(err, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        message = (
            f"{what}: the connection was lost; the request may have reached the provider: {err}"
            if processed
            else f"{what} could not connect: {err}"
        )
        return ProviderConnectionError(message, may_have_been_processed=processed)
    if isinstance(err, requests.exceptions.ContentDecodingError):
        return ProviderMalformedResponse(f"{what} sent an undecodable body: {err}")
    return ProviderError(f"{what} failed: {err}", may_have_been_processed=processed)


def malformed_answer(
    what: str, status: int, text: str, message: str, *, provider_job_id: str | None = None
) -> ProviderMalformedResponse:
    return ProviderMalformedResponse(
        f"{what}: {message}",
        status_code=status,
        response_text=_truncate(text, RESPONSE_TEXT_LIMIT),
        provider_job_id=provider_job_id,
    )


def snapshot_of_answer(what: str, status: int, body: bytes) -> VideoJobSnapshot:
    """A 2xx body as the job's snapshot, or ``ProviderMalformedResponse`` (both transports)."""
    try:
        data = _decode_json(body)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise malformed_answer(
            what, status, body.decode(errors="replace"), f"body is not JSON: {err}"
        ) from err
    try:
        return VideoJobSnapshot.from_json(data)
    except (ValueError, TypeError) as err:
        job_id = data.get("id") if isinstance(data, dict) else None
        raise malformed_answer(
            what,
            status,
            body.decode(errors="replace"),
            str(err),
            provider_job_id=job_id if isinstance(job_id, str) and job_id else None,
        ) from err


class VideoContent:
    """A streamed ``GET /videos/{id}/content`` response; use it as a context manager.

    The body is never read whole: ``iter_chunks()`` yields it piece by piece, and ``close()``
    (or leaving the ``with`` block) returns the connection to the pool.
    """

    def __init__(self, response: requests.Response, *, chunk_size: int, what: str):
        self._response = response
        self._chunk_size = chunk_size
        self._what = what
        self.status_code: int = response.status_code
        self.content_type: str = response.headers.get("Content-Type", "")
        self.content_length: int | None = self._parse_length(response.headers)

    @staticmethod
    def _parse_length(headers: Mapping[str, str]) -> int | None:
        try:
            length = int(headers.get("Content-Length", ""))
        except ValueError:
            return None
        return length if length >= 0 else None

    def iter_chunks(self) -> Iterator[bytes]:
        """Yield the body in chunks of at most ``chunk_size`` bytes.

        A connection lost or timed out mid-stream raises ``ProviderConnectionError`` /
        ``ProviderTimeout``.
        """
        try:
            for chunk in self._response.iter_content(chunk_size=self._chunk_size):
                if chunk:
                    yield chunk
        except requests.RequestException as err:
            raise _translate_request_exception(err, self._what) from err

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<VideoContent {self.content_type or '?'} "
            f"{self.content_length if self.content_length is not None else '?'} bytes>"
        )


def _session_with_environment_resolved(base_url: str) -> requests.Session:
    """A session that reads the environment once, here, instead of on every request.

    With ``trust_env`` on, ``requests`` re-reads the proxy variables and ``~/.netrc`` for
    every call: most of a poll's own CPU in a sweep. The proxy for the API's host (honouring
    ``NO_PROXY``) and a CA bundle from ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` are
    resolved now and kept on the session, so a host behind a proxy still works; changing
    them takes a new client (``reset_client()``). ``.netrc`` is not read: the API key is
    the provider's credential.
    """
    session = requests.Session()
    session.trust_env = False
    # One client serves every thread and workspace: no answer's cookie rides on a later
    # request (the API sets none; the poll path does not even read them, see adapter.py).
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    return session


class OpenRouterVideoClient:
    """HTTP client of OpenRouter's video endpoints; one instance is shared by all threads."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 32,
        app_url: str | None = None,
        app_title: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout: tuple[float, float] = (float(connect_timeout), float(read_timeout))
        self.pool_size = max(1, int(pool_size))
        self.session = _session_with_environment_resolved(self.base_url)
        self._poller: VideoPoller | None = None
        # A base URL that requests would rewrite (IDNA, quoting) always takes the full path.
        self._plain_url = self.base_url.isascii() and (
            requests.utils.requote_uri(self.base_url) == self.base_url
        )
        adapter = ProviderAdapter(
            pool_connections=POOL_CONNECTIONS, pool_maxsize=self.pool_size, max_retries=0
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"User-Agent": user_agent(), "Accept": "application/json"})
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        if app_url:
            self.session.headers["HTTP-Referer"] = str(app_url)
        if app_title:
            self.session.headers["X-Title"] = str(app_title)

    @classmethod
    def from_settings(cls) -> OpenRouterVideoClient:
        s = videogen_settings
        return cls(
            api_key=s.API_KEY,
            base_url=s.BASE_URL,
            connect_timeout=s.CONNECT_TIMEOUT,
            read_timeout=s.READ_TIMEOUT,
            pool_size=s.HTTP_POOL_SIZE,
            app_url=s.APP_URL,
            app_title=s.APP_TITLE,
        )

    # --- public API ------------------------------------------------------------------------

    def create_video(self, payload: Mapping[str, Any]) -> VideoJobSnapshot:
        """``POST /videos``: submit a ``VideoGenerationRequest``; the job's first snapshot."""
        body = json.dumps(dict(payload), default=_json_default).encode()
        response = self._request(
            "POST", "/videos", data=body, headers={"Content-Type": "application/json"}
        )
        return self._snapshot(response)

    def get_video(self, job_id: str) -> VideoJobSnapshot:
        """``GET /videos/{job_id}``: the job's current status, URLs and usage."""
        response = self._request("GET", f"/videos/{self._segment(job_id)}")
        return self._snapshot(response)

    def iter_content(
        self, job_id: str, *, index: int = 0, chunk_size: int = 1 << 16
    ) -> VideoContent:
        """``GET /videos/{job_id}/content?index=N``, streamed.

        The request is made (and errors raised) now; read the body through the returned
        ``VideoContent`` inside a ``with`` block so the connection is released.
        """
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"index must be a non-negative integer, not {index!r}")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        path = f"/videos/{self._segment(job_id)}/content"
        response = self._request(
            "GET", path, params={"index": index}, headers={"Accept": "*/*"}, stream=True
        )
        return VideoContent(response, chunk_size=chunk_size, what=f"GET {path}")

    def get_generation(self, generation_id: str) -> GenerationRecord:
        """``GET /generation?id=``: the provider's own record of a generation, with what it
        billed (``total_cost``): the ledger audit's reference."""
        if not isinstance(generation_id, str) or not generation_id:
            raise ValueError(f"invalid generation id: {generation_id!r}")
        response = self._request("GET", "/generation", params={"id": generation_id})
        data = self._json(response)
        try:
            return GenerationRecord.from_json(data)
        except (ValueError, TypeError) as err:
            raise self._malformed(response, str(err)) from err

    def list_models(self) -> list[VideoModelInfo]:
        """``GET /videos/models``: every video model with its supported parameters."""
        response = self._request("GET", "/videos/models")
        data = self._json(response)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self._malformed(response, "video models JSON has no 'data' list")
        try:
            return [VideoModelInfo.from_json(item) for item in items]
        except (ValueError, TypeError, ArithmeticError) as err:
            raise self._malformed(response, str(err)) from err

    def poll_videos(
        self,
        items: Sequence[tuple[Item, str]],
        *,
        concurrency: int,
        answer: Callable[[Item, Outcome], None],
        more_to_come: bool = False,
    ) -> PollRun:
        """``get_video`` for many jobs at once on the process's event loop (the sweep's
        transport, see ``polling.py``): ``answer(item, snapshot or error)`` is called for
        each ``(item, provider job id)`` from the loop's thread as answers come, at most
        ``concurrency`` polls in flight. ``cancel()`` on the returned run stops the rest;
        with ``more_to_come`` it takes more (``add()``) until ``close()``."""
        if self._poller is None:
            self._poller = VideoPoller(self)
        return self._poller.poll(
            items, concurrency=concurrency, answer=answer, more_to_come=more_to_come
        )

    def close(self) -> None:
        if self._poller is not None:
            self._poller.close()
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OpenRouterVideoClient {self.base_url}>"

    # --- internals -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @staticmethod
    def _segment(job_id: str) -> str:
        if not isinstance(job_id, str) or job_id in {"", ".", ".."}:
            raise ValueError(f"invalid provider job id: {job_id!r}")
        return quote(job_id, safe="")

    def _request(
        self,
        method: str,
        path: str,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            if method == "GET" and not stream and not kwargs and self._plain_url:
                response = self._plain_get(path)
            else:
                response = self.session.request(
                    method, self.url(path), timeout=self.timeout, stream=stream, **kwargs
                )
        except requests.RequestException as err:
            logger.debug(
                "videogen: %s failed after %.0f ms: %s",
                what,
                (time.monotonic() - started) * 1000,
                type(err).__name__,
            )
            raise _translate_request_exception(err, what) from err
        logger.debug(
            "videogen: %s -> %s in %.0f ms",
            what,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if 200 <= response.status_code < 300:
            return response
        try:
            text = self._error_text(response, stream=stream)
        finally:
            response.close()
        raise _error_for_status(response, text)

    def _plain_get(self, path: str) -> requests.Response:
        """A bodiless GET handed straight to the session's adapter (a poll: the hot path).

        ``Session.request`` costs more CPU than the whole exchange on the wire (preparing
        and merging settings, cookies, hooks); a sweep's polls share one process and its
        GIL, so that is what bounds them. Sent the same way: the session's headers, proxies
        (resolved once, see ``_session_with_environment_resolved``), TLS settings and
        timeouts. Cookies are not sent (the API uses none) and a redirect, never expected
        here, is followed by taking the full path again.
        """
        session = self.session
        url = self.url(path)
        request = requests.PreparedRequest()
        request.prepare_method("GET")
        request.url = url
        request.headers = requests.structures.CaseInsensitiveDict(session.headers)
        request.body = None
        request.hooks = requests.hooks.default_hooks()
        adapter = session.get_adapter(url)
        response = adapter.send(
            request,
            timeout=self.timeout,
            verify=session.verify,
            cert=session.cert,
            proxies=session.proxies,
            stream=False,
        )
        if response.is_redirect:
            response.close()
            return session.request("GET", url, timeout=self.timeout)
        return response

    @staticmethod
    def _error_text(response: requests.Response, *, stream: bool) -> str:
        if not stream:
            return response.text
        # A streamed error body is read only as far as it is worth keeping.
        limit = RESPONSE_TEXT_LIMIT * 4
        data = b""
        try:
            for chunk in response.iter_content(chunk_size=limit):
                data += chunk
                if len(data) >= limit:
                    break
        except requests.RequestException:
            pass
        return data[:limit].decode(response.encoding or "utf-8", errors="replace")

    @staticmethod
    def _malformed(
        response: requests.Response, message: str, *, provider_job_id: str | None = None
    ) -> ProviderMalformedResponse:
        return malformed_answer(
            f"{response.request.method} {response.url}",
            response.status_code,
            response.text,
            message,
            provider_job_id=provider_job_id,
        )

    def _json(self, response: requests.Response) -> Any:
        try:
            return _decode_json(response.content)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise self._malformed(response, f"body is not JSON: {err}") from err

    def _snapshot(self, response: requests.Response) -> VideoJobSnapshot:
        return snapshot_of_answer(
            f"{response.request.method} {response.url}", response.status_code, response.content
        )


# --- the process-wide client ---------------------------------------------------------------

_client: OpenRouterVideoClient | None = None
_client_lock = threading.Lock()


def get_client() -> OpenRouterVideoClient:
    """The shared client, built from ``VIDEOGEN`` settings on first use."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            client = _client
            if client is None:
                client = _client = OpenRouterVideoClient.from_settings()
    return client


def reset_client() -> None:
    """Close and forget the shared client (called when ``VIDEOGEN`` settings change)."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()


@receiver(setting_changed)
def _reset_client_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "VIDEOGEN":
        reset_client()
