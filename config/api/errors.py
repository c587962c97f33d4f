"""One error shape for every 4xx: ``{"error": {"code", "message", "fields"}}``.

``api_exception_handler`` is DRF's ``EXCEPTION_HANDLER``; ``ErrorSerializer``
documents the shape in the OpenAPI schema; ``api_not_found`` answers paths
under ``/api/`` that match no route, and ``bad_request`` (Django's ``handler400``)
the 400s Django raises before any view runs (a disallowed ``Host`` header), so
API clients never get an HTML page.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema_field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

from config.api.exceptions import Conflict, PayloadTooLarge, ServiceUnavailable

__all__ = ["Conflict", "PayloadTooLarge", "ServiceUnavailable"]

# A database that cannot be reached (or has no connection left) and a broker that is down.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)

ERROR_BODY_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {
            "type": "string",
            "description": "Machine-readable: invalid, parse_error, not_authenticated, "
            "authentication_failed, permission_denied, not_found, method_not_allowed, "
            "not_acceptable, unsupported_media_type, payload_too_large, conflict, throttled, "
            "bad_request, service_unavailable, model_not_loadable, activation_refused.",
        },
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "Per-field messages (input field or query parameter → list of "
            "messages; nested for list items). Empty when the error is not about a field.",
        },
    },
}


@extend_schema_field(ERROR_BODY_SCHEMA)
class ErrorBodyField(serializers.Field):
    def to_representation(self, value):
        return value


class ErrorSerializer(serializers.Serializer):
    """Documentation of the error shape (responses are built by the handler)."""

    error = ErrorBodyField()


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler, then the body reshaped; Django's own 4xx exceptions join in."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(exc) or None)
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "The request could not be parsed.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error (or a dependency down: config.middleware)
    response.data = _reshape(exc, response.data)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _reshape(exc: Exception, data) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, dict):
            message = _first_message(data.get("non_field_errors")) or _field_summary(data)
            return error_body("invalid", message, data)
        return error_body("invalid", _first_message(data) or "The input is not valid.")
    code = _exception_code(exc)
    message = str(getattr(exc, "detail", "") or exc)
    fields = getattr(exc, "fields", None)  # per-field messages an exception carries
    field = getattr(exc, "field", None)
    return error_body(code, message, fields or ({field: [message]} if field else None))


def _exception_code(exc: Exception) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            return codes
        return exc.default_code
    return "error"


def _field_summary(data: dict) -> str:
    names = [str(name) for name in data]
    if not names:
        return "The input is not valid."
    first = f"{names[0]}: {_first_message(data[names[0]])}"
    more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
    return f"Invalid input. {first}{more}"


def _first_message(value) -> str:
    if isinstance(value, list | tuple) and value:
        return _first_message(value[0])
    if isinstance(value, dict) and value:
        return _first_message(next(iter(value.values())))
    return str(value) if value else ""


@csrf_exempt  # a write to a wrong path is a 404, not a CSRF failure page
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any path under ``/api/`` that no route matches: a JSON 404, not Django's HTML page."""
    return JsonResponse(
        error_body("not_found", f"No API endpoint at {request.path!r}."),
        status=status.HTTP_404_NOT_FOUND,
    )


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/upload"


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``: a dependency that is down is a 503; under the API, JSON."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return unavailable_response(request)
    if not is_api_path(request.path):
        return defaults.server_error(request)
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler400``: JSON with the error shape under the API, HTML elsewhere."""
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    message = (
        "The Host header names a host this service does not answer to (ALLOWED_HOSTS)."
        if isinstance(exception, DisallowedHost)
        else "The request is malformed."
    )
    return JsonResponse(error_body("bad_request", message), status=status.HTTP_400_BAD_REQUEST)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON in the error shape under the API, text elsewhere."""
    message = (
        "A service this request needs (database or queue) is unavailable; "
        "nothing was lost, try again shortly."
    )
    headers = {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
    if is_api_path(request.path):
        return JsonResponse(error_body("service_unavailable", message), status=503, headers=headers)
    return HttpResponse(
        message, status=503, content_type="text/plain; charset=utf-8", headers=headers
    )
