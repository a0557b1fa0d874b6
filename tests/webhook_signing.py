"""The tests' own webhook signer: independent of videogen.provider.signing on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

SECRET = "whsec-test-current"
OLD_SECRET = "whsec-test-previous"


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts},".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def event(job_id: str, status: str = "completed", cost: float | None = 0.5, **data) -> bytes:
    payload = {
        "type": f"video.generation.{status}",
        "created_at": "2026-11-25T12:00:00Z",
        "data": {
            "id": job_id,
            "status": status,
            "generation_id": f"gen-{job_id}",
            "model": "google/veo-3.1",
            "unsigned_urls": [f"https://sim.test/api/v1/videos/{job_id}/content?index=0"]
            if status == "completed"
            else [],
            "usage": {"cost": cost, "is_byok": False} if status == "completed" else None,
            "error": "boom" if status == "failed" else None,
            **data,
        },
    }
    return json.dumps(payload).encode()
