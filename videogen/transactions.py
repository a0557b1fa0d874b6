"""Entry points that must not run inside a request transaction.

On a host with ``ATOMIC_REQUESTS`` Django wraps every view in a transaction. videogen's
services open their own, short transactions; a view that calls the provider (a poll, a
video stream) would otherwise hold the request's transaction open, and with it its locks and
connection (on SQLite, the write lock), for as long as the provider takes to answer; and a
budget refusal's signal would run inside the request's transaction, to be rolled back with it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections, transaction


def outside_request_transactions(view: Callable) -> Callable:
    """``transaction.non_atomic_requests`` for every database alias of the site."""
    for alias in connections:
        view = transaction.non_atomic_requests(using=alias)(view)
    return view
