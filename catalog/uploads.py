"""Uploaded images, the catalog's one write path for image files.

The API (images, the seed ``/upload``, batch scoring) and the admin form all
call ``check_upload`` and ``store_upload``. Order matters: the byte size is
checked before a byte is decoded, the pixel count before a pixel is decoded
(in ``inspect_image``, which never holds a big image at full size), and the
facts travel with the file so ``ProductImage.save`` does not inspect it again.
``replace_image`` swaps an image's bytes (a new analysis follows);
``decoded_uploads`` gives batch scoring the pixels, inside the process's
pixel budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from PIL import Image

from catalog.imaging import BadImageError, ImageFacts, decode_image
from catalog.models import Product, ProductImage, display_filename, inspect_upload
from catalog.pixel_budget import process_budget


class UploadTooLarge(BadImageError):
    """The file has more bytes than ``UPLOAD_MAX_BYTES`` (nothing of it was decoded)."""


class ImageConflict(BadImageError):
    """The product already has another image with exactly these bytes."""


class ListingConflict(Exception):
    """An upload for an existing product says something else than the product does.

    ``changes`` maps each differing field to ``(stored, sent)``.
    """

    def __init__(self, product: Product, changes: dict[str, tuple[str, str]]) -> None:
        self.product = product
        self.changes = changes
        said = "; ".join(
            f"its {name} is {stored!r}, this upload says {sent!r}"
            for name, (stored, sent) in changes.items()
        )
        super().__init__(f"Product {product.sku!r} (id {product.pk}) already exists: {said}.")


@dataclass(frozen=True)
class CheckedImage:
    file: UploadedFile
    decoded: ImageFacts  # format, size and hash; no pixels are kept
    filename: str  # display name only: storage names are random

    @property
    def pixels(self) -> int:
        return self.decoded.width * self.decoded.height


def check_upload(file: UploadedFile) -> CheckedImage:
    """Size, then inspection; raise ``UploadTooLarge``, ``BadImageError`` or
    ``PixelBudgetError`` with the reason."""
    limit = settings.UPLOAD_MAX_BYTES
    if file.size > limit:
        raise UploadTooLarge(f"The file is {file.size:,} bytes; the limit is {limit:,} bytes.")
    return CheckedImage(
        file=file, decoded=inspect_upload(file), filename=display_filename(file.name)
    )


@contextmanager
def decoded_uploads(checked: Sequence[CheckedImage]) -> Iterator[list[Image.Image]]:
    """The checked uploads' pixels, decoded inside the process's pixel budget.

    The budget is held for the whole ``with`` block (decoding and scoring), so
    concurrent batch calls cannot together hold more than ``DECODE_PIXEL_BUDGET``.
    """
    total = sum(item.pixels for item in checked)
    budget = process_budget(settings.DECODE_PIXEL_BUDGET)
    with budget.reserve(total, wait=settings.DECODE_WAIT_SECONDS):
        yield [
            decode_image(
                item.file,
                formats=settings.ALLOWED_IMAGE_FORMATS,
                max_pixels=settings.MAX_IMAGE_PIXELS,
            ).image
            for item in checked
        ]


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
        image = ProductImage(product=product, image=checked.file)
        image.record_facts(decoded, checked.file)
        image.save()
    return image, True


def replace_image(image: ProductImage, checked: CheckedImage) -> ProductImage:
    """Put new bytes in place of an image's file: hash, size and format follow the bytes.

    Saving with a new ``content_hash`` makes the old analysis no longer current and
    asks for a new one (``clipanalysis.signals``). The same bytes again change
    nothing; bytes another image of the product already has raise ``ImageConflict``.
    """
    decoded = checked.decoded
    if decoded.content_hash == image.content_hash:
        return image
    with transaction.atomic():
        twin = (
            ProductImage.objects.filter(
                product_id=image.product_id, content_hash=decoded.content_hash
            )
            .exclude(pk=image.pk)
            .first()
        )
        if twin is not None:
            raise ImageConflict(f"Image {twin.pk} of this product already has exactly these bytes.")
        image.image = checked.file
        image.record_facts(decoded, checked.file)
        image.save()
    return image


def store_listing_upload(
    checked: CheckedImage,
    *,
    description: str,
    sku: str = "",
    title: str = "",
    update_product: bool = False,
) -> tuple[ProductImage, bool]:
    """The seed's upload: the image on the product with this SKU, created if missing.

    1. find the product by SKU (derived from the content hash when none is
       given), or create it;
    2. a description (or a title, when one is sent) other than the product's
       raises ``ListingConflict`` — nothing is written — unless ``update_product``
       asks for it to be saved, which re-scores the product's images;
    3. attach the image unless the same bytes are already on the product.

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
    if changed and not update_product:
        raise ListingConflict(
            product, {name: (getattr(product, name), value) for name, value in changed.items()}
        )
    if changed:
        for name, value in changed.items():
            setattr(product, name, value)
        product.save(update_fields=[*changed, "updated_at"])
    return store_upload(product, checked)
