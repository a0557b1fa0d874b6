from decimal import Decimal

from django.template import Context, Template


def render(text: str, **context) -> str:
    return Template("{% load videogen_money %}" + text).render(Context(context))


def test_money_filter_uses_the_display_rule():
    assert render("{{ a|money }}", a=Decimal("5.30000000000000")) == "5.30 USD"
    assert render("{{ a|money }}", a=Decimal("0.0035")) == "0.0035 USD"
    assert render('{{ a|money:"" }}', a=Decimal("12")) == "12.00"
    assert render("{{ a|money }}", a=None) == "unknown"
