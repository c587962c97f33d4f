"""Issue 13 on the seeded demo catalog, through the real pipeline: near-duplicate flags
name the same product, not a look-alike of another category, colour or pattern."""

from __future__ import annotations

import pytest

from clipanalysis.models import AnalysisResult
from clipanalysis.near_duplicates import hash_neighbours
from training.models import SyntheticTruth
from training.seeding import seed_catalog

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
PRODUCTS = 60
MAX_WRONG = 0.02  # share of images flagged as a duplicate of a product that differs


def looks(attributes: dict) -> tuple[str, str, str]:
    return attributes["category"], attributes["colour"], attributes["pattern"]


def test_seeded_catalog_flags_no_look_alikes_as_duplicates(
    scoring_model, settings, django_capture_on_commit_callbacks
):
    settings.CLIP_EXPLAIN = False  # not what is measured here; saves time
    with django_capture_on_commit_callbacks(execute=True):
        seed_catalog(PRODUCTS, seed=0)
    truth = {row.product_id: looks(row.attributes) for row in SyntheticTruth.objects.all()}
    results = list(AnalysisResult.objects.current().select_related("image", "duplicate_of"))
    assert len(results) == PRODUCTS
    assert {result.status for result in results} == {AnalysisResult.Status.DONE}
    # Every seeded image has its own bytes, so its own content hash (no exact duplicates).
    assert len({result.image.content_hash for result in results} - {""}) == PRODUCTS

    wrong, hash_alone = [], 0
    for result in results:
        own = truth[result.image.product_id]
        if result.duplicate_of is not None and truth[result.duplicate_of.product_id] != own:
            wrong.append((result.image.product_id, result.duplicate_of.product_id))
        neighbours = hash_neighbours(
            result.image.perceptual_hash,
            settings.NEAR_DUPLICATE_MAX_DISTANCE,
            exclude_product_id=result.image.product_id,
        )
        image_products = {
            pk: product
            for pk, product in AnalysisResult.objects.filter(
                image_id__in=[n[0] for n in neighbours]
            ).values_list("image_id", "image__product_id")
        }
        hash_alone += any(truth[image_products[pk]] != own for pk, _, _ in neighbours)
    assert len(wrong) <= MAX_WRONG * PRODUCTS, wrong
    assert hash_alone >= 8  # the perceptual hash alone would have flagged these (13)
