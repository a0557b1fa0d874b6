"""Request counters, so a benchmark can tell how many calls each endpoint took."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe counts of requests per endpoint, responses per status and faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._started = time.monotonic()

    def record(self, endpoint: str, status: int, fault: str | None = None) -> None:
        with self._lock:
            self._requests[endpoint] += 1
            self._statuses[status] += 1
            if fault:
                self._faults[fault] += 1

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults.clear()
            self._started = time.monotonic()

    def requests(self, endpoint: str) -> int:
        with self._lock:
            return self._requests[endpoint]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "total_requests": sum(self._requests.values()),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "faults": dict(self._faults),
                "since_seconds": round(time.monotonic() - self._started, 3),
            }
