"""The API's own exceptions (kept free of ``rest_framework.views``: parsers import them,
and DRF imports the default parsers while it builds its views)."""

from __future__ import annotations

from rest_framework import exceptions, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    """A dependency (database, broker, the pixel budget) cannot serve now; retry later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is busy or a dependency is down; try again shortly."
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
