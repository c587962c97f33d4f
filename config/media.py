"""Serving uploaded files so that none of them can run as a page on our origin.

Stored images are named by the format Pillow decoded (``catalog.models``), so
the content type follows the bytes. Whatever a file is, it is served with
``X-Content-Type-Options: nosniff`` and a Content-Security-Policy that lets
nothing run (``sandbox``, ``default-src 'none'``); anything that is not one
of the allowed image types is sent as an attachment (a file stored before
names were random, a stray upload). A proxy serving ``MEDIA_ROOT`` in
production sets the same headers (README "Production").
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.static import serve
from PIL import Image

MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def inline_content_types() -> set[str]:
    """The MIME types of the allowed image formats: the only ones shown inline."""
    Image.init()  # registers every plugin, and so its MIME type (idempotent)
    return {Image.MIME[name] for name in settings.ALLOWED_IMAGE_FORMATS if name in Image.MIME}


def media_headers(response: HttpResponse) -> HttpResponse:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    if content_type not in inline_content_types():
        response["Content-Disposition"] = "attachment"
        response["Content-Type"] = "application/octet-stream"
    return response


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    return media_headers(serve(request, path, document_root=settings.MEDIA_ROOT))
