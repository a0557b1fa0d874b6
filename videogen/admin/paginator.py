"""A paginator that never counts a big table whole."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

# Rows counted at most; past it the list says "more than 10,000".
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (``SELECT COUNT(*) FROM (… LIMIT n)``), so a
    list of a million rows costs what a list of ten thousand does. Past the cap the pages
    stop at the cap's last page: narrow the list with its filters, search or dates."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap
