"""``{% load videogen_money %}``: amounts of money in templates, by the one display rule.

``{{ job.cost|money }}`` → ``0.80 USD``; ``{{ amount|money:"" }}`` → ``0.80``;
``{{ None|money }}`` → ``unknown``. (``videogen.services.money.display.money``.)
"""

from __future__ import annotations

from django import template

from videogen.services.money.display import money as display_money

register = template.Library()


@register.filter
def money(amount, currency: str = "USD") -> str:
    return display_money(amount, currency)
