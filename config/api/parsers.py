"""Request body parsers with limits a client cannot push past.

``BoundedJSONParser``: JSON nested deeper than ``JSON_MAX_DEPTH`` (100,000
levels of ``[`` used to exhaust the stack: a 500), numbers longer than
``JSON_MAX_NUMBER_DIGITS``, ``NaN``/``Infinity`` and non-UTF-8 bodies are a
400 parse error. The nesting is measured before ``json`` recurses.

``SizeLimitedMultiPartParser``: multipart that refuses an oversized body
before reading it. Django streams large file parts to temporary files; without this check a
client could fill the disk before the per-file size check ever runs. The
declared ``Content-Length`` may not exceed what the view can accept:
``max_upload_files`` × ``UPLOAD_MAX_BYTES`` plus room for the form fields.
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser

from config.api.exceptions import PayloadTooLarge

FORM_FIELDS_ALLOWANCE_BYTES = 256 * 1024


def upload_body_limit(view) -> int:
    files = getattr(view, "max_upload_files", 1)
    files = files() if callable(files) else files
    return settings.UPLOAD_MAX_BYTES * max(1, files) + FORM_FIELDS_ALLOWANCE_BYTES


class SizeLimitedMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        limit = upload_body_limit(parser_context.get("view"))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLarge(
                f"The request body is {length:,} bytes; this endpoint accepts at most "
                f"{limit:,} bytes (UPLOAD_MAX_BYTES per file plus form fields)."
            )
        return super().parse(stream, media_type, parser_context)


_JSON_SPECIALS = re.compile(rb'[\[\]{}"\\]')
QUOTE, BACKSLASH = ord('"'), ord("\\")
OPENERS, CLOSERS = {ord("["), ord("{")}, {ord("]"), ord("}")}


def json_depth(body: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` outside strings, counted in one pass without
    parsing (and stopping once past ``stop_above``)."""
    depth = deepest = 0
    in_string = False
    escaped = -1
    for match in _JSON_SPECIALS.finditer(body):
        position = match.start()
        char = body[position]
        if position == escaped:
            continue
        if in_string:
            if char == BACKSLASH:
                escaped = position + 1
            elif char == QUOTE:
                in_string = False
        elif char == QUOTE:
            in_string = True
        elif char in OPENERS:
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in CLOSERS:
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(settings.JSON_MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > settings.JSON_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"JSON bodies may be at most {settings.JSON_MAX_BODY_BYTES:,} bytes."
            )
        limit = settings.JSON_MAX_DEPTH
        if json_depth(body, stop_above=limit) > limit:
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        try:
            return json.loads(
                body.decode("utf-8"),
                parse_int=_bounded_int,
                parse_float=_finite_float,
                parse_constant=_no_constant,
            )
        except UnicodeDecodeError as error:
            raise ParseError("JSON parse error - the body is not UTF-8.") from error
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from error


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > settings.JSON_MAX_NUMBER_DIGITS:
        raise ValueError(f"a number longer than {settings.JSON_MAX_NUMBER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > settings.JSON_MAX_NUMBER_DIGITS + 10:
        raise ValueError(f"a number longer than {settings.JSON_MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
