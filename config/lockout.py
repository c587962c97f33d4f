"""What a locked-out login gets (django-axes' ``AXES_LOCKOUT_CALLABLE``): a 429 with
``Retry-After``, in the API's error shape under the API, plain text elsewhere."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.api.errors import error_body, is_api_path

MESSAGE = "Too many failed logins from this address or for this account; try again later."


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    headers = {"Retry-After": str(int(cool_off.total_seconds()))} if cool_off else {}
    if is_api_path(request.path):
        return JsonResponse(error_body("throttled", MESSAGE), status=429, headers=headers)
    return HttpResponse(
        MESSAGE, status=429, content_type="text/plain; charset=utf-8", headers=headers
    )
