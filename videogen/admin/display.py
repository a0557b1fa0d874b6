"""How the admin shows things to people: short ids, status badges, money, ages, JSON, bars.

Money always goes through the one display rule (``services.money.display.money``).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timesince import timesince

from videogen.models import JobStatus, VideoJob
from videogen.services.money.display import money

EMPTY = "–"
UNSUCCESSFUL = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})


def short_id(public_id) -> SafeString:
    """The first 8 characters of a UUID (what staff read and search), the whole on hover."""
    text = str(public_id)
    return format_html('<span class="vg-id" title="{}">{}</span>', text, text[:8])


def status_badge(status: str, label: str | None = None) -> SafeString:
    """A coloured badge that also says the status in words (colour is never the only cue)."""
    label = label or JobStatus(status).label
    return format_html('<span class="vg-badge vg-status-{}">{}</span>', status, label)


def status_change(event) -> SafeString:
    """A job event's transition as badges: ``queued → submitting``, or its first status."""
    after = status_badge(event.to_status, event.get_to_status_display())
    if not event.from_status:
        return after
    before = status_badge(event.from_status, event.get_from_status_display())
    return format_html("{} → {}", before, after)


def attention_badge() -> SafeString:
    return format_html('<span class="vg-badge vg-attention">{}</span>', "needs attention")


def job_cost(job: VideoJob) -> SafeString:
    """What a job cost: the ledger's charge; else "not charged" for an unsuccessful job
    (never its estimate), "cost pending" for a completed one, the estimate marked as such
    for one still running."""
    cost = job.cost
    if cost is not None:
        return format_html('<span class="vg-money">{}</span>', money(cost))
    if job.status in UNSUCCESSFUL:
        return format_html('<span class="vg-quiet">{}</span>', "not charged")
    if job.status == JobStatus.COMPLETED:
        return format_html('<span class="vg-quiet">{}</span>', "cost pending")
    if job.estimated_cost is not None:
        return format_html(
            '<span class="vg-quiet" title="{}">≈ {}</span>',
            "estimate: charged when the provider reports the cost",
            money(job.estimated_cost),
        )
    return format_html('<span class="vg-quiet">{}</span>', EMPTY)


def age(moment: datetime | None) -> SafeString | str:
    """ "3 hours ago", the exact time on hover."""
    if moment is None:
        return EMPTY
    exact = date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    return format_html(
        '<span class="vg-age" title="{}">{} ago</span>', exact, timesince(moment, depth=1)
    )


def excerpt(text: str, length: int = 80) -> SafeString | str:
    if not text:
        return EMPTY
    one_line = " ".join(text.split())
    return format_html(
        '<span class="vg-excerpt" title="{}">{}</span>',
        Truncator(one_line).chars(500),
        Truncator(one_line).chars(length),
    )


def json_block(value) -> SafeString | str:
    """Indented JSON in a scrollable block; "–" when empty."""
    if value in (None, "", [], {}):
        return EMPTY
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
    return format_html('<pre class="vg-json">{}</pre>', text)


def text_block(text: str) -> SafeString | str:
    return format_html('<div class="vg-text">{}</div>', text) if text else EMPTY


def spend_bar(spent: Decimal, budget: Decimal | None, *, committed: Decimal | None = None):
    """Month-to-date spend against the budget: a bar (an SVG, no inline style) and the
    figures in words. ``committed`` (spend + jobs still in flight) shows as a paler part."""
    if budget is None:
        return format_html('<span class="vg-quiet">{} (no budget)</span>', money(spent))
    width = 120
    share = (spent / budget) if budget else Decimal(1 if spent else 0)
    level = "over" if share >= 1 else "near" if share >= Decimal("0.8") else "ok"
    filled = int(min(share, 1) * width)
    pending = 0
    if committed is not None and budget:
        pending = int(min(committed / budget, 1) * width) - filled
    percent = f"{share * 100:.0f} %"
    return format_html(
        '<span class="vg-spend vg-spend-{level}">'
        '<svg class="vg-bar" width="{w}" height="10" viewBox="0 0 {w} 10" role="img" '
        'aria-label="{pct} of the budget">'
        '<rect class="vg-bar-track" width="{w}" height="10" rx="2"></rect>'
        '<rect class="vg-bar-pending" x="{f}" width="{p}" height="10"></rect>'
        '<rect class="vg-bar-fill" width="{f}" height="10" rx="2"></rect></svg> '
        "{spent} of {budget} ({pct})</span>",
        level=level,
        w=width,
        f=filled,
        p=max(pending, 0),
        pct=percent,
        spent=money(spent, ""),
        budget=money(budget),
    )


_SKU_WORDS = {"per_second": "per second", "per_video": "per video", "generate": "per video"}


def sku_label(sku: str) -> str:
    """``per_second_720p_audio`` → "per second, 720p, with audio"; ``per_video_5s`` → "5 s
    video"; unknown shapes are shown as they are."""
    if sku == "generate":
        return "per video"
    if sku.startswith("per_video_") and sku.endswith("s"):
        return f"{sku.removeprefix('per_video_').removesuffix('s')} s video"
    if sku.startswith("per_second"):
        parts = sku.removeprefix("per_second").strip("_").split("_")
        words = ["per second"]
        words += [p for p in parts if p and p != "audio"]
        if "audio" in parts:
            words.append("with audio")
        return ", ".join(words)
    return sku


def prices(skus) -> SafeString | str:
    """The model's price list, one line per SKU, money by the display rule."""
    if not isinstance(skus, dict) or not skus:
        return EMPTY
    lines = []
    for sku, price in skus.items():
        try:
            amount = money(Decimal(str(price)))
        except ArithmeticError:
            amount = str(price)
        lines.append(
            format_html(
                '<li>{}: <span class="vg-money">{}</span></li>', sku_label(str(sku)), amount
            )
        )
    return format_html('<ul class="vg-list">{}</ul>', SafeString("".join(lines)))


def choices(values, suffix: str = "") -> str:
    """A capability list as words: ``[4, 6, 8]`` → "4, 6, 8 s"; ``None`` → "–"."""
    if not values:
        return EMPTY
    text = ", ".join(str(v) for v in values)
    return f"{text} {suffix}".strip()
