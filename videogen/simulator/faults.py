"""Fault injection: decide, per API request, whether to misbehave and how.

One uniform draw from a seeded ``random.Random`` per request is compared with the cumulative
rates (reset, then rate limit, then server error, then malformed), so a given seed and request
order always give the same faults, and the rates are exact probabilities of each kind.
"""

from __future__ import annotations

import enum
import random
import threading
from dataclasses import dataclass

from .config import SimulatorConfig

SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultKind(enum.StrEnum):
    RESET = "reset"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    # HTTP status for RATE_LIMIT / SERVER_ERROR; 200 for MALFORMED; 0 for RESET.
    status: int = 0


class FaultInjector:
    """Draws faults from the config's current rates (read on every draw, so runtime changes
    apply immediately)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._random = random.Random(config.seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    def draw(self) -> Fault | None:
        cfg = self.config
        thresholds = (
            (cfg.reset_rate, FaultKind.RESET),
            (cfg.rate_limit_rate, FaultKind.RATE_LIMIT),
            (cfg.server_error_rate, FaultKind.SERVER_ERROR),
            (cfg.malformed_rate, FaultKind.MALFORMED),
        )
        if not any(rate for rate, _ in thresholds):
            return None  # the common case: no lock, no draw
        with self._lock:
            u = self._random.random()
            edge = 0.0
            for rate, kind in thresholds:
                edge += rate
                if u < edge:
                    if kind is FaultKind.RATE_LIMIT:
                        return Fault(kind, 429)
                    if kind is FaultKind.SERVER_ERROR:
                        return Fault(kind, self._random.choice(SERVER_ERROR_STATUSES))
                    if kind is FaultKind.MALFORMED:
                        return Fault(kind, 200)
                    return Fault(kind)
        return None
