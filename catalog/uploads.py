"""Uploaded images, the catalog's one write path for image files.

The API (images, the seed ``/upload``, batch scoring) and the admin form all
call ``check_upload`` and ``store_upload``. Order matters: the byte size is
checked before a byte is decoded, the pixel count before a pixel is decoded
(in ``decode_image``), and the decoded facts travel with the file so
``ProductImage.save`` does not decode it again.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from catalog.imaging import BadImageError, DecodedImage, decode_image
from catalog.models import Product, ProductImage

FILENAME_MAX_CHARS = 255


class UploadTooLarge(BadImageError):
    """The file has more bytes than ``UPLOAD_MAX_BYTES`` (nothing of it was decoded)."""


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


def check_upload(file: UploadedFile) -> CheckedImage:
    """Size, then decoding; raise ``UploadTooLarge`` or ``BadImageError`` with the reason."""
    limit = settings.UPLOAD_MAX_BYTES
    if file.size > limit:
        raise UploadTooLarge(f"The file is {file.size:,} bytes; the limit is {limit:,} bytes.")
    decoded = decode_image(
        file, formats=settings.ALLOWED_IMAGE_FORMATS, max_pixels=settings.MAX_IMAGE_PIXELS
    )
    return CheckedImage(file=file, decoded=decoded, filename=display_filename(file.name))


def store_upload(product: Product, checked: CheckedImage) -> tuple[ProductImage, bool]:
    """Add a checked upload to ``product``; the same bytes twice give the existing image.

    Returns ``(image, created)``. Saving a new image asks for its analysis after
    commit (``clipanalysis.signals``).
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


def store_listing_upload(
    checked: CheckedImage, *, description: str, sku: str = "", title: str = ""
) -> tuple[ProductImage, bool]:
    """The seed's upload: the image on the product with this SKU, created if missing.

    1. find the product by SKU (derived from the content hash when none is
       given), or create it; a changed description or title is saved, which
       re-scores the product's images;
    2. attach the image unless the same bytes are already on the product.

    Call inside a transaction that also asks for the analysis. Returns
    ``(image, created)``.
    """
    sku = sku or f"img-{checked.decoded.content_hash[:16]}"
    product = Product.objects.select_for_update().filter(sku=sku).first()
    if product is None:
        try:
            with transaction.atomic():
                product = Product.objects.create(sku=sku, title=title, description=description)
        except IntegrityError:  # created concurrently by another upload
            product = Product.objects.select_for_update().get(sku=sku)
    changed = {}
    if product.description != description:
        changed["description"] = description
    if title and product.title != title:
        changed["title"] = title
    if changed:
        for name, value in changed.items():
            setattr(product, name, value)
        product.save(update_fields=[*changed, "updated_at"])
    return store_upload(product, checked)
