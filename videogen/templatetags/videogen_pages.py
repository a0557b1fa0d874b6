"""``{% load videogen_pages %}``: the small pieces videogen's pages share.

``{% status_badge job %}`` (the status in words, coloured), ``{% job_cost job %}`` (charge,
estimate or "not charged": ``services.money.display.job_cost_text``) and
``{% api_tokens_enabled as flag %}`` (the host installed DRF's authtoken) and
``{{ mapping|get_item:key }}``.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.text import capfirst

from videogen.models import VideoJob
from videogen.services.money.display import job_cost_text
from videogen.services.tokens import api_tokens_installed

register = template.Library()


@register.simple_tag
def status_badge(job: VideoJob) -> str:
    return format_html(
        '<span class="vg-status vg-status--{}">{}</span>',
        job.status,
        capfirst(job.get_status_display()),
    )


@register.simple_tag
def job_cost(job: VideoJob, short: bool = False) -> str:
    """``{% job_cost job %}``; ``{% job_cost job short=True %}`` in a table cell."""
    cost = job_cost_text(job)
    words = cost.short if short else cost.text
    return format_html('<span class="vg-cost vg-cost--{}">{}</span>', cost.kind, words)


@register.simple_tag
def api_tokens_enabled() -> bool:
    return api_tokens_installed()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
