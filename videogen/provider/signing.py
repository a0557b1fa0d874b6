"""Pure HMAC signing and verification of OpenRouter webhooks.

``X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>," + raw body)>``.
Shared by the webhook receiver and the simulator; no Django, no HTTP.

The header is untrusted text: the parser accepts only what the format allows (ASCII,
``t=`` a short run of ASCII digits, ``v1=`` exactly 64 hex digits, several ``v1`` while the
provider rotates secrets, other ``<scheme>=<value>`` items ignored, as Stripe's format
allows) and raises ``SignatureError`` for anything else, so no header can reach an integer
conversion or a comparison it could break.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "X-OpenRouter-Signature"
IDEMPOTENCY_HEADER = "X-OpenRouter-Idempotency-Key"

# Room for a timestamp and a handful of v1 values (each item is about 70 characters).
MAX_HEADER_LENGTH = 1024
# Unix seconds fit in 11 digits until the year 5138; more is never a real timestamp.
MAX_TIMESTAMP_DIGITS = 12

_TIMESTAMP = re.compile(rf"[0-9]{{1,{MAX_TIMESTAMP_DIGITS}}}")
_V1 = re.compile(r"[0-9a-fA-F]{64}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_FORMAT = "signature header must look like 't=<unix seconds>,v1=<64 hex digits>'"


class SignatureError(Exception):
    """The signature header is missing, malformed, stale or does not match."""


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp},".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Return ``(timestamp, [v1 signatures, lower-case])``; ``SignatureError`` otherwise."""
    if not isinstance(header, str) or not header.strip():
        raise SignatureError("missing signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(f"signature header is longer than {MAX_HEADER_LENGTH} characters")
    if not header.isascii():
        raise SignatureError("signature header must be ASCII")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        value = value.strip()
        if not sep:
            raise SignatureError(_FORMAT)
        if key == "t":
            if timestamp is not None:
                raise SignatureError("signature header has more than one timestamp")
            if not _TIMESTAMP.fullmatch(value):
                raise SignatureError(
                    f"signature timestamp must be 1 to {MAX_TIMESTAMP_DIGITS} digits"
                )
            timestamp = int(value)
        elif key == "v1":
            if not _V1.fullmatch(value):
                raise SignatureError("each v1 signature must be 64 hexadecimal digits")
            signatures.append(value.lower())
        elif not _SCHEME.fullmatch(key):
            raise SignatureError(_FORMAT)
    if timestamp is None or not signatures:
        raise SignatureError(_FORMAT)
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
    candidates = [s.encode("ascii") for s in signatures]
    for secret in secrets:
        expected = compute_signature(secret, timestamp, body).encode("ascii")
        # Every candidate is compared (no early exit), each in constant time.
        matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
        if any(matches):
            return timestamp
    raise SignatureError("signature does not match any configured secret")
