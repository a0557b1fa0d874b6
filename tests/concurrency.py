"""Running test code in threads released together (PostgreSQL race tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_together(
    count: int, fn: Callable[[int, threading.Barrier], Any], *, timeout: float = 30
) -> list[Any]:
    """Run ``fn(index, barrier)`` in ``count`` threads released together; return results.

    ``barrier`` (already passed once) may be reused by ``fn`` to line threads up again.
    Each thread closes its database connection; the first exception is re-raised here.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = fn(index, barrier)
        except BaseException as err:  # surfaced in the test's thread below
            errors.append(err)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a racing thread did not finish"
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]
    return results
