"""``manage.py refresh_image_signatures``: recompute stored near-duplicate signatures.

Signatures (perceptual hash, its bands, the product-colour histogram) are written
when an image is analysed. Images analysed before the histogram took its current
layout keep an older one, which ``image_signature.colour_agreement`` cannot compare
(the hash alone then decides); this brings them up to date without re-scoring.

Images stored without a content hash (seeded before ``ProductImage.save`` inspected
files stored ahead of their row) are saved first: that records the hash and asks
for their analysis again, since they shared one analysis key and one embedding.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm.auto import tqdm

from catalog.imaging import BadImageError, decode_image
from catalog.models import ProductImage
from clipanalysis.image_signature import SIGNATURE_LENGTH, colour_histogram
from clipanalysis.near_duplicates import record_signature
from clipanalysis.quality import perceptual_hash

SIGNATURE_BYTES = SIGNATURE_LENGTH * 4  # float32


def stale_image_ids(everything: bool = False) -> list[int]:
    """Images whose stored signature is missing or in another layout (all with ``everything``)."""
    rows = ProductImage.objects.order_by("pk").values_list("pk", "colour_histogram")
    return [
        pk
        for pk, histogram in rows.iterator(chunk_size=2000)
        if everything or len(bytes(histogram or b"")) != SIGNATURE_BYTES
    ]


class Command(BaseCommand):
    help = "Recompute near-duplicate signatures stored in an older layout (or, --all, every one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="Recompute every image's.")

    def handle(self, *args, **options) -> None:
        unhashed = list(ProductImage.objects.filter(content_hash="").order_by("pk"))
        for image in tqdm(unhashed, desc="content hashes", unit="image", disable=not unhashed):
            try:
                image.save()  # inspects the stored file; post_save re-analyses it
            except (BadImageError, OSError) as error:
                self.stderr.write(f"Image {image.pk}: {error}")
        image_ids = stale_image_ids(options["all"])
        refreshed, unreadable = 0, 0
        for pk in tqdm(image_ids, desc="signatures", unit="image"):
            image = ProductImage.objects.filter(pk=pk).first()
            if image is None:
                continue  # deleted meanwhile
            try:
                with image.image.open("rb") as handle:
                    decoded = decode_image(
                        handle,
                        formats=settings.ALLOWED_IMAGE_FORMATS,
                        max_pixels=settings.MAX_IMAGE_PIXELS,
                    )
            except (BadImageError, OSError):
                unreadable += 1
                continue
            # As the pipeline does (``measure_quality``): the same hash, the same histogram.
            record_signature(pk, perceptual_hash(decoded.image), colour_histogram(decoded.image))
            refreshed += 1
        self.stdout.write(
            f"Refreshed {refreshed} image signature(s); {unreadable} unreadable; "
            f"{len(unhashed)} content hash(es) recorded."
        )
