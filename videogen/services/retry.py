"""When to try again: one backoff rule for submissions, polls and downloads."""

from __future__ import annotations

import random

from videogen.conf import videogen_settings


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with ±20 % jitter, capped, never shorter than ``Retry-After``."""
    base = float(videogen_settings.POLL_INITIAL_DELAY_SECONDS)
    ceiling = float(videogen_settings.POLL_MAX_DELAY_SECONDS)
    delay = min(ceiling, base * (2 ** max(0, min(attempt, 16))))
    delay *= random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay
