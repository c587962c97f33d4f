"""Duplicates among other products' images, through the band index, never a scan.

ORM-aware. ``record_signature`` stores an image's perceptual hash, its bands and
its colour histogram; ``find_duplicate`` answers "which other product's image is
this one?" from them alone, so re-scoring needs no decode. The arithmetic is in
``image_signature``.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import ProductImage
from clipanalysis.image_signature import (
    BAND_BITS,
    BAND_FIELDS,
    band_probes,
    hamming_distance,
    hash_bands,
    probe_radius,
    same_colours,
)


@dataclass(frozen=True)
class Duplicate:
    image_id: int
    distance: int  # bits between the perceptual hashes; 0 for the same bytes


def record_signature(image_id: int, perceptual_hash: str, colour_histogram: bytes) -> None:
    """Store what ``find_duplicate`` needs for this image (and for the others' searches)."""
    ProductImage.objects.filter(pk=image_id).update(
        perceptual_hash=perceptual_hash,
        colour_histogram=colour_histogram,
        **dict(zip(BAND_FIELDS, hash_bands(perceptual_hash), strict=True)),
    )


def hash_neighbours(
    perceptual_hash: str, max_distance: int, *, exclude_product_id: int | None = None
) -> list[tuple[int, int, bytes]]:
    """``(image id, distance, colour histogram)`` of every stored image whose hash is within
    ``max_distance`` bits, closest first (then oldest): exactly what a scan would find.

    One indexed query per band (``band IN probes``); each probe list has the same
    length whatever the catalog's size.
    """
    radius = probe_radius(max_distance)
    images = ProductImage.objects.all()
    if exclude_product_id is not None:
        images = images.exclude(product_id=exclude_product_id)
    seen: dict[int, tuple[int, int, bytes]] = {}
    for field, bits, band in zip(BAND_FIELDS, BAND_BITS, hash_bands(perceptual_hash), strict=True):
        rows = images.filter(**{f"{field}__in": band_probes(band, bits, radius)}).values_list(
            "pk", "perceptual_hash", "colour_histogram"
        )
        for pk, other_hash, histogram in rows:
            if pk in seen:
                continue
            distance = hamming_distance(perceptual_hash, other_hash)
            if distance <= max_distance:
                seen[pk] = (pk, distance, bytes(histogram or b""))
    return sorted(seen.values(), key=lambda row: (row[1], row[0]))


def find_duplicate(
    image: ProductImage, perceptual_hash: str, colour_histogram: bytes, max_distance: int
) -> Duplicate | None:
    """The other product's image this one duplicates: the same bytes, or the closest
    image within ``max_distance`` bits that also has the same colours."""
    others = ProductImage.objects.exclude(product_id=image.product_id)
    exact = others.filter(content_hash=image.content_hash).order_by("pk").first()
    if exact is not None:
        return Duplicate(image_id=exact.pk, distance=0)
    for pk, distance, histogram in hash_neighbours(
        perceptual_hash, max_distance, exclude_product_id=image.product_id
    ):
        if same_colours(colour_histogram, histogram):
            return Duplicate(image_id=pk, distance=distance)
    return None
