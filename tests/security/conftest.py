"""The API tests' fresh throttle cache for these tests too."""

from tests.api.conftest import fresh_throttle_cache

__all__ = ["fresh_throttle_cache"]
