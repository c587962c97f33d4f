"""OpenAPI: every operation documents the error responses it can give, in one shape.

Views keep their ``extend_schema`` for success responses (and any error they
describe more precisely); this schema class adds the common 4xx responses so
no endpoint can forget one.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object, force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from config.api.errors import ErrorSerializer

COMMON_ERRORS = {
    "400": "Invalid input: a field, a query parameter (unknown ones included) or the body.",
    "404": "No such object, page or endpoint.",
    "406": "No acceptable response format for the Accept header (use application/json).",
    "429": "Too many requests; retry after the number of seconds in Retry-After.",
    "503": "The database or the queue is unavailable, or the server is busy decoding large "
    "images; retry after the number of seconds in Retry-After.",
}
AUTH_ERRORS = {
    "401": "No or invalid credentials (send `Authorization: Token <key>`).",
    "403": "Authenticated, but this account may not do this.",
}
BODY_ERRORS = {
    "413": "The request body (or an uploaded file) is over the size limit.",
    "415": "Unsupported Content-Type for the request body.",
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(COMMON_ERRORS)
        if not self._allows_anyone():
            errors.update(AUTH_ERRORS)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            errors.update(BODY_ERRORS)
        for code, description in sorted(errors.items()):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code
                )
        return responses

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        """A request body whose upload field has old names (``upload_field_aliases``: the
        field and its aliases) needs one of them: the field is not listed as required
        (sent under an old name it is absent) and says so. Plain ``required`` lists, no
        ``oneOf``: schema-driven clients and fuzzers handle those."""
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        names = getattr(force_instance(serializer), "upload_field_aliases", None)
        if direction == "request" and names and names[1]:
            field, aliases = names
            required = schema.get("required", [])
            if field in required:
                schema["required"] = [name for name in required if name != field]
                if not schema["required"]:
                    del schema["required"]
                old = ", ".join(f"`{alias}`" for alias in aliases)
                prop = schema["properties"][field]
                prop["description"] = (
                    f"Required (or its old name {old}, never both). {prop.get('description', '')}"
                ).strip()
        return schema

    def _allows_anyone(self) -> bool:
        permissions = self.view.get_permissions()
        return bool(permissions) and all(isinstance(p, AllowAny) for p in permissions)


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <key>`` with a knox key (``manage.py create_api_token``)."""

    target_class = "config.api.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )
