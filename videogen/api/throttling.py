"""Per-user throttling, rate from the host's ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class VideogenUserRateThrottle(UserRateThrottle):
    """Requests per user (per IP when anonymous) to the whole API, scope ``videogen``.

    The rate is read at request time (DRF's own class reads it once at import, which makes
    ``override_settings`` useless); a site that sets no ``videogen`` rate is not throttled.
    Example: ``"DEFAULT_THROTTLE_RATES": {"videogen": "600/minute"}``.
    """

    scope = "videogen"

    def get_rate(self) -> str | None:
        return (api_settings.DEFAULT_THROTTLE_RATES or {}).get(self.scope)
