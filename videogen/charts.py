"""Spend per day (or month) stacked by model, as the geometry of a server-rendered SVG.

One chart for the workspace's spend page and the admin's usage report: no JavaScript and no
chart library. ``spend_chart`` turns a usage report grouped by period and model into bars,
axis ticks and a legend, in SVG user units; ``videogen/includes/spend_chart.html`` only
draws them. Colours keep at least 3:1 contrast with a white background (WCAG's rule for
graphics) and every bar names its numbers in a ``<title>``; past ``MAX_SERIES - 1`` models
the smallest are summed as "other models".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from videogen.services.money.display import money
from videogen.services.money.reports import UsageReport

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 32
PALETTE = (
    "#4338ca",
    "#b45309",
    "#047857",
    "#be185d",
    "#0369a1",
    "#6d28d9",
    "#4d7c0f",
    "#57606a",  # the last series: "other models" when there are more
)
MAX_SERIES = len(PALETTE)
MAX_X_LABELS = 12
# Past this many days the chart is drawn per month; past MAX_PERIODS it is not drawn.
DAILY_UP_TO_DAYS = 92
MAX_PERIODS = 240
OTHER = "other models"
_CENTI = Decimal("0.01")


@dataclass(frozen=True)
class Bar:
    x: float
    y: Decimal
    width: float
    height: Decimal
    series: int
    colour: str
    title: str


@dataclass(frozen=True)
class Series:
    index: int
    model: str  # the model's id, or OTHER
    name: str  # what the legend says
    total: Decimal
    colour: str

    @property
    def total_text(self) -> str:
        return money(self.total)


@dataclass
class SpendChart:
    period: str  # "day" or "month"
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[Decimal, str]] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)
    busiest: tuple[str, Decimal] | None = None  # the highest stack: its label and amount
    left: int = LEFT

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def axis_x(self) -> int:
        return self.left - 6

    @property
    def label_y(self) -> int:
        return self.plot_bottom + 20

    @property
    def colours(self) -> dict[str, str]:
        """Model id → colour, for swatches in a table beside the chart."""
        return {s.model: s.colour for s in self.legend}

    @property
    def summary(self) -> str:
        """The chart in words, for screen readers."""
        total = sum((s.total for s in self.legend), Decimal(0))
        text = f"Spend per {self.period}, stacked by model: {money(total)} in total"
        if self.busiest is None:
            return text + "; nothing was spent."
        label, amount = self.busiest
        parts = "; ".join(f"{s.name}: {s.total_text}" for s in self.legend)
        return f"{text}; the most on {label} ({money(amount)}). {parts}."


def chart_period(start: date, end: date) -> str | None:
    """``"day"`` for ranges up to ``DAILY_UP_TO_DAYS`` days, else ``"month"``; ``None``
    when even months would be too many bars to read."""
    days = (end - start).days + 1
    if days <= DAILY_UP_TO_DAYS:
        return "day"
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return "month" if months <= MAX_PERIODS else None


def _periods(start: date, end: date, period: str) -> list[date]:
    if period == "day":
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    months, current = [], start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


def nice_step(top: Decimal, ticks: int = 4) -> Decimal:
    """A round step (1, 2, 2.5 or 5 × 10ⁿ) so that ``ticks`` steps reach ``top``."""
    raw = top / ticks
    exponent = raw.adjusted()
    for mantissa in (1, 2, Decimal("2.5"), 5, 10):
        step = Decimal(mantissa).scaleb(exponent)
        if step >= raw:
            return step
    return Decimal(10).scaleb(exponent)  # pragma: no cover - 10 always fits


def _label(day: date, period: str) -> str:
    return f"{day:%b} {day.day}" if period == "day" else f"{day:%b %Y}"


def spend_chart(
    report: UsageReport,
    period: str,
    *,
    names: Mapping[str, str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SpendChart:
    """``report`` must be grouped by ``(period, "model")``; ``names`` maps model ids to what
    the legend and the bars' titles say (the ids themselves by default)."""
    chart = SpendChart(period=period, width=width, height=height)
    totals: dict[str, Decimal] = {}
    cells: dict[tuple[date, str], Decimal] = {}
    for row in report.rows:
        when, model = row.keys[period], row.keys["model"]
        totals[model] = totals.get(model, Decimal(0)) + row.cost
        cells[(when, model)] = cells.get((when, model), Decimal(0)) + row.cost
    ranked = sorted(totals, key=lambda m: (-totals[m], m))
    shown = ranked if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    series_of = {m: i for i, m in enumerate(shown)}
    other = len(shown)
    names = names or {}
    chart.legend = [
        Series(i, m, names.get(m, m), totals[m], PALETTE[i]) for i, m in enumerate(shown)
    ]
    if len(shown) < len(ranked):
        rest = sum((totals[m] for m in ranked[len(shown) :]), Decimal(0))
        chart.legend.append(Series(other, OTHER, OTHER, rest, PALETTE[other]))

    periods = _periods(report.start, report.end, period)
    stacks: list[list[tuple[int, Decimal]]] = []
    for when in periods:
        stack: dict[int, Decimal] = {}
        for model in ranked:
            amount = cells.get((when, model))
            if amount:
                index = series_of.get(model, other)
                stack[index] = stack.get(index, Decimal(0)) + amount
        stacks.append(sorted(stack.items()))
    heights = [sum((a for _, a in s), Decimal(0)) for s in stacks]
    highest = max(heights, default=Decimal(0))
    if highest <= 0:
        return chart
    busiest = heights.index(highest)
    chart.busiest = (_label(periods[busiest], period), highest)

    step = nice_step(highest)
    top = step * (highest / step).to_integral_value(rounding=ROUND_CEILING)
    plot_h = chart.plot_bottom - TOP
    plot_w = chart.plot_right - chart.left

    def y_of(amount: Decimal) -> Decimal:
        # Geometry from money, in Decimal too: a coordinate, never a float of a cost.
        return (chart.plot_bottom - amount / top * plot_h).quantize(_CENTI)

    tick = Decimal(0)
    while tick <= top:
        chart.y_ticks.append((y_of(tick), money(tick, "")))
        tick += step

    slot = plot_w / len(periods)
    bar_w = round(max(slot * 0.78, 1), 2)
    every = max(1, -(-len(periods) // MAX_X_LABELS))
    by_index = {s.index: s for s in chart.legend}
    for i, (when, stack) in enumerate(zip(periods, stacks, strict=True)):
        x = round(chart.left + i * slot + (slot - bar_w) / 2, 2)
        if i % every == 0:
            chart.x_labels.append((round(x + bar_w / 2, 2), _label(when, period)))
        base = Decimal(0)
        for index, amount in stack:
            low, high = y_of(base), y_of(base + amount)
            series = by_index[index]
            title = f"{_label(when, period)}, {series.name}: {money(amount)}"
            chart.bars.append(
                Bar(x, high, bar_w, max(low - high, Decimal("0.1")), index, series.colour, title)
            )
            base += amount
    return chart
