"""Pure HMAC signing and verification of OpenRouter webhooks.

``X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>," + raw body)>``.
Shared by the webhook receiver and the simulator; no Django, no HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "X-OpenRouter-Signature"
IDEMPOTENCY_HEADER = "X-OpenRouter-Idempotency-Key"


class SignatureError(Exception):
    """The signature header is missing, malformed, stale or does not match."""


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp},".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Return ``(timestamp, [v1 signatures])``; raise ``SignatureError`` when malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as err:
                raise SignatureError("signature timestamp is not an integer") from err
        elif key == "v1" and value:
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        raise SignatureError("signature header must look like 't=<unix>,v1=<hex>'")
    return timestamp, signatures


def verify_signature(
    *,
    secrets: Iterable[str],
    body: bytes,
    header: str | None,
    tolerance_seconds: int,
    now: float | None = None,
) -> int:
    """Check ``header`` against every secret; return the signed timestamp.

    Raises ``SignatureError`` for a missing/malformed header, a timestamp outside
    ``tolerance_seconds`` (in either direction), or no secret matching.
    """
    if not header:
        raise SignatureError("missing signature header")
    timestamp, signatures = parse_signature_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("signature timestamp is outside the tolerance window")
    for secret in secrets:
        expected = compute_signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise SignatureError("signature does not match any configured secret")
