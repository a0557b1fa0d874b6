"""The spend page's chart: spend per day, stacked by model, as SVG geometry for a template.

Server-side, no JavaScript: ``spend_chart`` turns a ``MonthSpend`` into rectangles, axis
ticks and a legend; ``videogen/includes/spend_chart.html`` draws them. Coordinates are
computed with ``Decimal`` like the money they draw. Colours keep at least 3:1 contrast with
the white background (WCAG's rule for graphics), and every bar names its numbers in a
``<title>``; the page also gives the same numbers as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from videogen.services.money.display import money
from videogen.services.money.spend import MonthSpend

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 28
PALETTE = (
    "#4338ca",
    "#b45309",
    "#047857",
    "#be185d",
    "#0369a1",
    "#6d28d9",
    "#4d7c0f",
    "#b91c1c",
)
OTHER_COLOUR = "#57606a"
_PLACES = Decimal("0.1")
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))


def _q(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Segment:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    colour: str
    label: str


@dataclass(frozen=True)
class Tick:
    position: Decimal
    label: str


@dataclass(frozen=True)
class LegendItem:
    name: str
    colour: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right_edge: int
    baseline: int
    segments: list[Segment]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[LegendItem]
    colours: dict[str, str]  # model id -> colour, for the totals table's swatches
    summary: str  # the chart in one sentence, for screen readers

    @property
    def is_empty(self) -> bool:
        return not self.segments


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (a round top for the axis)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for power in (exponent, exponent + 1):
        scale = Decimal(10) ** power
        for step in _STEPS:
            if step * scale >= value:
                return step * scale
    return Decimal(10) ** (exponent + 1)  # pragma: no cover (the loop always returns)


def _day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def spend_chart(spend: MonthSpend) -> Chart:
    colours = {
        m.model: PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR
        for i, m in enumerate(spend.models)
    }
    names = {m.model: m.name for m in spend.models}
    top = nice_ceiling(max((d.total for d in spend.days), default=Decimal(0)))
    plot_width = Decimal(WIDTH - LEFT - RIGHT)
    plot_height = Decimal(HEIGHT - TOP - BOTTOM)
    baseline = Decimal(HEIGHT - BOTTOM)
    slot = plot_width / len(spend.days)
    bar = slot * Decimal("0.7")
    segments = []
    for index, day in enumerate(spend.days):
        x = Decimal(LEFT) + slot * index + (slot - bar) / 2
        y = baseline
        for model in (m.model for m in spend.models):
            cost = day.by_model.get(model)
            if not cost:
                continue
            height = plot_height * cost / top
            y -= height
            segments.append(
                Segment(
                    x=_q(x),
                    y=_q(y),
                    width=_q(bar),
                    height=max(_q(height), _PLACES),
                    colour=colours[model],
                    label=f"{_day_label(day.day)}, {names[model]}: {money(cost)}",
                )
            )
    y_ticks = [
        Tick(position=_q(baseline - plot_height * i / 4), label=money(top * i / 4, ""))
        for i in range(5)
    ]
    x_ticks = [
        Tick(position=_q(Decimal(LEFT) + slot * index + slot / 2), label=str(day.day.day))
        for index, day in enumerate(spend.days)
        if day.day.day == 1 or day.day.day % 5 == 0
    ]
    busiest = max(spend.days, key=lambda d: d.total)
    summary = (
        f"Spend per day in {spend.first:%B %Y}, stacked by model: {money(spend.total)} in total"
        + (
            f"; the most on {_day_label(busiest.day)} ({money(busiest.total)})."
            if busiest.total
            else "; nothing was spent."
        )
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right_edge=WIDTH - RIGHT,
        baseline=HEIGHT - BOTTOM,
        segments=segments,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        legend=[LegendItem(names[m.model], colours[m.model]) for m in spend.models],
        colours=colours,
        summary=summary,
    )
