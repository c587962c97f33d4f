"""The band index finds exactly what a full scan finds, on any database."""

from __future__ import annotations

import random

import pytest

from catalog.models import Product, ProductImage
from clipanalysis.image_signature import (
    BAND_BITS,
    BAND_FIELDS,
    band_probes,
    hamming_distance,
    hash_bands,
    probe_radius,
)
from clipanalysis.near_duplicates import hash_neighbours

pytestmark = pytest.mark.django_db


def random_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def flipped(phash: str, bits: int, rng: random.Random) -> str:
    value = int(phash, 16)
    for position in rng.sample(range(64), bits):
        value ^= 1 << position
    return f"{value:016x}"


def store_hashes(hashes: list[str]) -> list[int]:
    """Images with these hashes, two per product, as the pipeline records them."""
    rows = []
    for start in range(0, len(hashes), 2):
        product = Product.objects.create(sku=f"IDX-{start:06d}", description="x")
        for phash in hashes[start : start + 2]:
            bands = dict(zip(BAND_FIELDS, hash_bands(phash), strict=True))
            rows.append(
                ProductImage(
                    product=product,
                    image=f"products/{phash}.jpg",
                    content_hash=phash * 4,
                    perceptual_hash=phash,
                    **bands,
                )
            )
    ProductImage.objects.bulk_create(rows, batch_size=500)
    return list(ProductImage.objects.order_by("pk").values_list("pk", flat=True))


def scan(query: str, stored: dict[int, str], max_distance: int) -> list[tuple[int, int]]:
    found = [
        (pk, hamming_distance(query, phash))
        for pk, phash in stored.items()
        if hamming_distance(query, phash) <= max_distance
    ]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def test_bands_cover_the_hash_and_probes_reach_the_radius():
    assert sum(BAND_BITS) == 64
    phash = "f0e1d2c3b4a59687"
    bands = hash_bands(phash)
    rebuilt = 0
    for bits, band in zip(BAND_BITS, bands, strict=True):
        rebuilt = (rebuilt << bits) | band
    assert f"{rebuilt:016x}" == phash
    probes = band_probes(5, 21, 2)
    assert len(probes) == len(set(probes)) == 1 + 21 + 210
    assert all((probe ^ 5).bit_count() <= 2 for probe in probes)
    assert probe_radius(8) == 2 and probe_radius(2) == 0


@pytest.mark.parametrize("max_distance", [0, 3, 6, 8, 11])
def test_index_finds_exactly_what_the_exhaustive_search_finds(max_distance):
    rng = random.Random(max_distance)
    queries = [random_hash(rng) for _ in range(25)]
    hashes = [random_hash(rng) for _ in range(600)]
    # Plant neighbours of every query at each distance around the tolerance.
    for query in queries:
        hashes += [flipped(query, bits, rng) for bits in range(0, max_distance + 4)]
    rng.shuffle(hashes)
    pks = store_hashes(hashes)
    stored = dict(zip(pks, hashes, strict=True))

    for query in queries:
        found = [(pk, distance) for pk, distance, _ in hash_neighbours(query, max_distance)]
        assert found == scan(query, stored, max_distance)
        assert found  # the planted copies are there


def test_index_leaves_out_the_images_own_product():
    rng = random.Random(7)
    phash = random_hash(rng)
    first, second = store_hashes([phash, flipped(phash, 1, rng)])
    product_id = ProductImage.objects.get(pk=first).product_id
    assert [row[0] for row in hash_neighbours(phash, 6)] == [first, second]
    assert hash_neighbours(phash, 6, exclude_product_id=product_id) == []
