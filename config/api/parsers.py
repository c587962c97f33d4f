"""Multipart parsing that refuses an oversized body before reading it.

Django streams large file parts to temporary files; without this check a
client could fill the disk before the per-file size check ever runs. The
declared ``Content-Length`` may not exceed what the view can accept:
``max_upload_files`` × ``UPLOAD_MAX_BYTES`` plus room for the form fields.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.parsers import MultiPartParser

from config.api.errors import PayloadTooLarge

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
