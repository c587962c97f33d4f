"""Uploaded images: every check happens before anything is written.

Order matters: the byte size is checked before a byte is decoded (413), the
pixel count before a pixel is decoded (in ``decode_image``), and the decoded
facts travel with the file so ``ProductImage.save`` does not decode it again.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from rest_framework import serializers

from catalog.imaging import BadImageError, DecodedImage, decode_image
from catalog.models import Product, ProductImage
from config.api.errors import PayloadTooLarge

FILENAME_MAX_CHARS = 255


@dataclass(frozen=True)
class CheckedImage:
    file: UploadedFile
    decoded: DecodedImage
    filename: str  # display name only: storage names are random


def display_filename(name: str | None) -> str:
    """The client's file name made harmless for display: no directories, no control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if cleaned in ("", ".", ".."):
        cleaned = "upload"
    return cleaned[:FILENAME_MAX_CHARS]


class ImageUploadField(serializers.FileField):
    default_error_messages = {
        "invalid_image": "{message}",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text",
            "An image file (JPEG, PNG, WebP, GIF, BMP or TIFF), at most UPLOAD_MAX_BYTES "
            "bytes and MAX_IMAGE_PIXELS pixels.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> CheckedImage:
        file = super().to_internal_value(data)  # not a file, or empty: 400
        limit = settings.UPLOAD_MAX_BYTES
        if file.size > limit:
            raise PayloadTooLarge(
                f"The file is {file.size:,} bytes; the limit is {limit:,} bytes.",
                field=self.field_name,
            )
        try:
            decoded = decode_image(
                file,
                formats=settings.ALLOWED_IMAGE_FORMATS,
                max_pixels=settings.MAX_IMAGE_PIXELS,
            )
        except BadImageError as error:
            self.fail("invalid_image", message=str(error))
        return CheckedImage(file=file, decoded=decoded, filename=display_filename(file.name))

    def to_representation(self, value):
        return super().to_representation(value.file if isinstance(value, CheckedImage) else value)


def attach_image(product: Product, checked: CheckedImage) -> tuple[ProductImage, bool]:
    """Add a checked upload to ``product``; the same bytes twice give the existing image.

    Returns ``(image, created)``. Saving a new image asks for its analysis after
    commit (``clipanalysis.signals``); the decoded facts are filled in here so
    ``ProductImage.save`` does not decode the file a second time.
    """
    decoded = checked.decoded
    with transaction.atomic():
        existing = product.images.filter(content_hash=decoded.content_hash).order_by("pk").first()
        if existing is not None:
            return existing, False
        image = ProductImage(
            product=product,
            image=checked.file,
            original_filename=checked.filename,
            content_hash=decoded.content_hash,
            width=decoded.width,
            height=decoded.height,
            format=decoded.format,
        )
        image.save()
    return image, True
