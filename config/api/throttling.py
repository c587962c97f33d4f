"""Per-user and anonymous throttles whose rates are read at request time.

DRF's own classes copy ``DEFAULT_THROTTLE_RATES`` when first imported, so a
changed setting (a test, a reloaded config) would never reach them.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(UserRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
