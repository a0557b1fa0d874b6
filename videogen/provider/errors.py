"""Typed errors for every way a call to the provider can fail.

``ProviderTransientError`` marks what is worth retrying later (429, 5xx, timeouts, connection
errors, malformed responses); everything else under ``ProviderError`` is a definite answer.
Each carries the HTTP status (when there was one), the provider's message and the raw text.

``may_have_been_processed`` says what the client could observe about the request itself:
``False`` only when the failure proves the provider never acted on it (the connection was
never made, a documented 4xx or 429, the provider's own documented error body); ``True``
whenever the request may have reached the provider (read timeout, a reset after sending, a
2xx that does not parse, a 5xx that is not the provider's documented error). The submission
service decides from it whether a POST may ever be sent again.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error raised by ``videogen.provider.client``."""

    status_code: int | None = None
    reason = "provider_error"  # stable, machine-readable; stored on failed jobs

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        response_text: str = "",
        retry_after: float | None = None,
        may_have_been_processed: bool = True,
        provider_job_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.response_text = response_text
        self.retry_after = retry_after
        self.may_have_been_processed = may_have_been_processed
        # A job id found in an answer that was otherwise unusable (e.g. a 2xx whose status
        # does not parse): the provider did create that job.
        self.provider_job_id = provider_job_id

    def __str__(self) -> str:
        prefix = f"{self.status_code} " if self.status_code else ""
        return f"{prefix}{self.message}"


class ProviderTransientError(ProviderError):
    """Worth retrying later with backoff."""

    reason = "transient"


class ProviderBadRequest(ProviderError):
    status_code = 400
    reason = "bad_request"


class ProviderAuthError(ProviderError):
    status_code = 401
    reason = "unauthorized"


class ProviderPaymentRequired(ProviderError):
    status_code = 402
    reason = "payment_required"


class ProviderNotFound(ProviderError):
    status_code = 404
    reason = "not_found"


class ProviderPayloadTooLarge(ProviderError):
    status_code = 413
    reason = "payload_too_large"


class ProviderRateLimited(ProviderTransientError):
    """429; ``retry_after`` holds the seconds from ``Retry-After`` when given."""

    status_code = 429
    reason = "rate_limited"


class ProviderServerError(ProviderTransientError):
    status_code = 500
    reason = "server_error"


class ProviderTimeout(ProviderTransientError):
    reason = "timeout"


class ProviderConnectionError(ProviderTransientError):
    reason = "connection_error"


class ProviderMalformedResponse(ProviderTransientError):
    """The provider answered 2xx with a body that is not the documented JSON."""

    reason = "malformed_response"
