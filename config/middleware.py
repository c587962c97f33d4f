"""Requests that must never reach a view, and dependencies that are down.

``RejectNulBytesMiddleware``: a NUL byte in a query parameter, a path or a
cookie is a 400 before any view runs (PostgreSQL refuses NUL in text, so the
admin's changelist filters answered 500). Views under the API keep their own
per-field messages (``config.api.query``) for query parameters.

``DependencyUnavailableMiddleware``: when the database cannot be reached or is
out of connections, or the broker is down, the answer is a 503 with
``Retry-After`` (JSON under the API), never an HTML 500.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.api.errors import UNAVAILABLE, error_body, is_api_path, unavailable_response
from config.api.query import nul_errors

logger = logging.getLogger(__name__)
NUL = "\x00"


class RejectNulBytesMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        errors = {}
        if not is_api_path(request.path):  # the API answers with its own per-field errors
            errors = nul_errors(request.GET)
            if NUL in request.path:
                errors["path"] = ["Null characters are not allowed."]
        for name, value in request.COOKIES.items():
            if NUL in name or NUL in value:
                shown = name.replace(NUL, "\\x00")
                errors[f"cookie {shown}"] = ["Null characters are not allowed."]
        if not errors:
            return self.get_response(request)
        message = "Null characters are not allowed in the address, its parameters or cookies."
        if is_api_path(request.path):
            return JsonResponse(error_body("invalid", message, errors), status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class DependencyUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        logger.error("Dependency unavailable on %s: %s", request.path, exception)
        return unavailable_response(request)
