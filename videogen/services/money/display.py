"""Amounts of money in text for people (messages, command output).

The ledger keeps 8 decimal places and SQLite sums come back with 14: ``5.30000000000000``.
People read cents: two decimals, and more only when a price really has them (``0.0035``).
JSON and CSV keep the exact strings; this is only for prose.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENTS = Decimal("0.01")
# The ledger's precision: nothing finer is ever stored.
SMALLEST = Decimal("0.00000001")


def money(amount: Decimal | int | str | None, currency: str = "USD") -> str:
    """``5.30 USD``, ``0.0035 USD``, ``12.00 USD``; ``unknown`` for ``None``."""
    if amount is None:
        return "unknown"
    try:
        value = Decimal(amount).quantize(SMALLEST)
    except (InvalidOperation, TypeError, ValueError):
        return f"{amount} {currency}".strip()
    if value == value.quantize(CENTS):
        text = f"{value.quantize(CENTS)}"
    else:
        text = f"{value.normalize():f}"
    return f"{text} {currency}".strip()
