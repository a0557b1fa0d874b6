"""The spend chart's geometry (``videogen.charts``); the page tests draw it from the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from videogen.charts import nice_ceiling


@pytest.mark.parametrize(
    ("value", "top"),
    [
        ("0", "1"),
        ("0.003", "0.005"),
        ("0.8", "1"),
        ("1", "1"),
        ("1.6", "2"),
        ("2.1", "2.5"),
        ("2.8", "5"),
        ("7", "10"),
        ("12", "20"),
        ("240.5", "250"),
        ("999", "1000"),
    ],
)
def test_the_axis_tops_at_a_round_number(value, top):
    assert nice_ceiling(Decimal(value)) == Decimal(top)
