"""API tokens: hashed and expiring (django-rest-knox), and failed attempts locked out.

A knox token is stored as its SHA-512 digest with an expiry; the key is shown
once, when it is created (``manage.py create_api_token`` or the admin). Every
failed token is a failed login for django-axes, counted per client address
and per account (the account whose token the key's prefix names), exactly as
failed admin logins are; a locked-out address or account gets a 429 with
``Retry-After`` until the cool-off ends, even with the right token.
"""

from __future__ import annotations

import re
from hmac import compare_digest

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_login_failed
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

# What knox issues: hex characters (a bounded length keeps lookups and hashing cheap).
TOKEN_FORMAT = re.compile(r"[0-9a-f]{16,128}")


class LockedOut(exceptions.Throttled):
    default_detail = "Too many failed logins from this address or for this account."


class ExpiringTokenAuthentication(TokenAuthentication):
    """One query per request (the token by its key prefix, with its user); the lockout
    counters live in the cache (django-axes' cache handler)."""

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        prefix = knox_settings.AUTH_HEADER_PREFIX.encode()
        if not auth or auth[0].lower() != prefix.lower():
            return None  # not a token: another scheme (or none) decides
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: send 'Authorization: Token <key>'."
            )
        key = _as_key(auth[1])
        candidates = _tokens_named_by(key)
        owner = candidates[0].user.get_username() if candidates else None
        credentials = {"username": owner}
        django_request = request._request
        if AxesProxyHandler.is_locked(django_request, credentials):
            cool_off = get_cool_off(django_request)
            raise LockedOut(wait=cool_off.total_seconds() if cool_off else None)
        token = _matching(key, candidates)
        if token is None:
            user_login_failed.send(
                sender=type(self), credentials=credentials, request=django_request
            )
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return self.validate_user(token)


def _as_key(raw: bytes) -> str:
    """The key if it has knox's shape, else "" (never a database lookup with odd bytes)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return text if TOKEN_FORMAT.fullmatch(text) else ""


def _tokens_named_by(key: str) -> list:
    if not key:
        return []
    return list(
        get_token_model()
        .objects.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH])
        .select_related("user")
    )


def _matching(key: str, candidates: list):
    """The unexpired token whose digest is the key's; an expired one is deleted."""
    digest = hash_token(key) if key else ""
    for token in candidates:
        if not compare_digest(digest, token.digest):
            continue
        if token.expiry is not None and token.expiry < timezone.now():
            token.delete()
            return None
        return token
    return None
