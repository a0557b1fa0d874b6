"""The spend chart's geometry (``videogen.charts``): stacks, scale, legend; the spend page's and
the admin report's tests draw it from the ledger."""

from datetime import date
from decimal import Decimal

from videogen.charts import OTHER, PALETTE, chart_period, nice_step, spend_chart
from videogen.services.money.reports import UsageReport, UsageRow


def usage(rows, start=date(2026, 3, 1), end=date(2026, 3, 3)):
    return UsageReport(
        start=start,
        end=end,
        group_by=("day", "model"),
        time_zone="UTC",
        rows=[
            UsageRow(keys={"day": d, "model": m}, jobs=1, priced_jobs=1, cost=Decimal(c), seconds=5)
            for d, m, c in rows
        ],
    )


def test_each_day_is_a_stack_whose_height_is_its_spend():
    chart = spend_chart(
        usage(
            [
                (date(2026, 3, 1), "a", "3"),
                (date(2026, 3, 1), "b", "1"),
                (date(2026, 3, 2), "a", "2"),
            ]
        ),
        "day",
    )
    first = [b for b in chart.bars if b.title.startswith("Mar 1")]
    second = [b for b in chart.bars if b.title.startswith("Mar 2")]
    assert [b.series for b in first] == [0, 1]  # the biggest model first, at the bottom
    assert first[1].y + first[1].height == first[0].y  # stacked, no gap
    scale = first[0].height / 3
    assert abs(second[0].height - 2 * scale) < Decimal("0.05")
    assert [s.name for s in chart.legend] == ["a", "b"]
    assert chart.y_ticks[0][1] == "0.00" and chart.y_ticks[-1][1] == "4.00"


def test_past_eight_models_the_smallest_are_summed_as_other():
    rows = [(date(2026, 3, 1), f"m{i}", str(10 - i)) for i in range(10)]
    chart = spend_chart(usage(rows), "day")
    assert len(chart.legend) == 8 and chart.legend[-1].name == OTHER
    assert chart.legend[-1].total == Decimal(3 + 2 + 1)


def test_no_spend_draws_no_bars():
    assert spend_chart(usage([]), "day").empty


def test_the_period_follows_the_range():
    assert chart_period(date(2026, 1, 1), date(2026, 3, 1)) == "day"
    assert chart_period(date(2025, 1, 1), date(2026, 3, 1)) == "month"
    assert chart_period(date(1970, 1, 1), date(2026, 3, 1)) is None


def test_nice_steps():
    assert nice_step(Decimal("8")) == 2
    assert nice_step(Decimal("9.5")) == Decimal("2.5")
    assert nice_step(Decimal("0.03")) == Decimal("0.01")


def test_names_colours_and_the_summary_follow_the_models():
    chart = spend_chart(
        usage([(date(2026, 3, 2), "a", "3"), (date(2026, 3, 3), "b", "1")]),
        "day",
        names={"a": "Model A"},
    )
    assert [(s.name, s.colour) for s in chart.legend] == [
        ("Model A", PALETTE[0]),
        ("b", PALETTE[1]),
    ]
    assert chart.colours == {"a": PALETTE[0], "b": PALETTE[1]}
    assert chart.bars[0].title == "Mar 2, Model A: 3.00 USD" and chart.bars[0].colour == PALETTE[0]
    assert "4.00 USD in total; the most on Mar 2 (3.00 USD)" in chart.summary


def test_a_chart_without_spend_says_so():
    assert spend_chart(usage([]), "day").summary.endswith("nothing was spent.")
