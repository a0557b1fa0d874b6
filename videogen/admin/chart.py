"""Spend per day (or month) stacked by model, as the geometry of a server-rendered SVG.

No JavaScript and no chart library: ``spend_chart`` turns a usage report grouped by
period and model into bars, axis ticks and a legend, in SVG user units; the template
(``admin/videogen/usageentry/spend_chart.html``) only draws them. Colours come from CSS
classes (``vg-series-N``), a palette told apart by people with colour-blindness; past
``MAX_SERIES - 1`` models the smallest are summed as "other models".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from videogen.services.money.display import money
from videogen.services.money.reports import UsageReport

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 32
MAX_SERIES = 8
MAX_X_LABELS = 12
# Past this many days the chart is drawn per month; past MAX_PERIODS it is not drawn.
DAILY_UP_TO_DAYS = 92
MAX_PERIODS = 240
OTHER = "other models"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    title: str


@dataclass(frozen=True)
class Series:
    index: int
    name: str
    total: Decimal

    @property
    def total_text(self) -> str:
        return money(self.total)


@dataclass
class SpendChart:
    period: str  # "day" or "month"
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    too_long: bool = False

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def axis_x(self) -> int:
        return self.left - 6

    @property
    def label_y(self) -> int:
        return self.plot_bottom + 20

    @property
    def summary(self) -> str:
        parts = [f"{s.name}: {s.total_text}" for s in self.legend]
        return f"Spend per {self.period}, stacked by model. " + "; ".join(parts)


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


def spend_chart(report: UsageReport, period: str) -> SpendChart:
    """``report`` must be grouped by ``(period, "model")``."""
    chart = SpendChart(period=period)
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
    chart.legend = [Series(i, m, totals[m]) for i, m in enumerate(shown)]
    if len(shown) < len(ranked):
        rest = sum((totals[m] for m in ranked[len(shown) :]), Decimal(0))
        chart.legend.append(Series(other, OTHER, rest))

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
    highest = max((sum(a for _, a in s) for s in stacks), default=Decimal(0))
    if highest <= 0:
        return chart

    step = nice_step(highest)
    top = step * ((highest / step).to_integral_value(rounding="ROUND_CEILING"))
    plot_h = chart.plot_bottom - TOP
    plot_w = chart.plot_right - chart.left

    def y_of(amount: Decimal) -> float:
        return round(chart.plot_bottom - float(amount / top) * plot_h, 2)

    tick = Decimal(0)
    while tick <= top:
        chart.y_ticks.append((y_of(tick), money(tick, "")))
        tick += step

    slot = plot_w / len(periods)
    bar_w = round(max(slot * 0.78, 1), 2)
    every = max(1, -(-len(periods) // MAX_X_LABELS))
    names = {s.index: s.name for s in chart.legend}
    for i, (when, stack) in enumerate(zip(periods, stacks, strict=True)):
        x = round(chart.left + i * slot + (slot - bar_w) / 2, 2)
        if i % every == 0:
            chart.x_labels.append((round(x + bar_w / 2, 2), _label(when, period)))
        base = Decimal(0)
        for index, amount in stack:
            low, high = y_of(base), y_of(base + amount)
            title = f"{_label(when, period)} · {names[index]}: {money(amount)}"
            chart.bars.append(Bar(x, high, bar_w, round(low - high, 2), index, title))
            base += amount
    return chart
