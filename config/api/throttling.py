"""Per-user, anonymous and per-view throttles whose rates are read at request time.

The counters live in Django's cache: Redis when ``REDIS_URL``/``CACHE_URL`` is set,
so every web process and machine counts together.

DRF's own classes copy ``DEFAULT_THROTTLE_RATES`` when first imported, so a
changed setting (a test, a reloaded config) would never reach them.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(UserRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ScopedThrottle(ScopedRateThrottle):
    """A view's own rate (``throttle_scope``), e.g. batch scoring; none for other views."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
