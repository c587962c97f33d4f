"""Reviewer verdicts for training tests: open a review item if need be, then rule on it."""

from __future__ import annotations

from clipanalysis.models import AnalysisResult, ReviewItem, Verdict
from clipanalysis.review import correct_description, record_verdict
from tests.factories import add_image, image_bytes, make_product, packshot


def distinct_image(index: int) -> bytes:
    """A packshot whose bytes (and so content hash) differ per index."""
    colour = ((37 * index) % 256, (91 * index + 40) % 256, (53 * index + 90) % 256)
    return image_bytes(packshot(colour=colour, size=(320, 320)))


def product_with_images(description: str, n_images: int = 1, *, category: str = "t-shirt", seed=0):
    product = make_product(description, category=category)
    images = [add_image(product, distinct_image(seed * 10 + i)) for i in range(n_images)]
    return product, images


def open_item(result: AnalysisResult) -> ReviewItem:
    """The image's open review item, pointed at ``result`` (created when there is none)."""
    item = ReviewItem.objects.open().filter(image_id=result.image_id).first()
    if item is None:
        return ReviewItem.objects.create(
            image_id=result.image_id,
            result=result,
            reasons=["uncertain"],
            primary_reason="uncertain",
        )
    if item.result_id != result.pk:
        item.result = result
        item.save(update_fields=["result"])
    return item


def rule(image, decision: str, *, reviewer=None, corrected: str = "") -> Verdict:
    """A reviewer's verdict on the image's current result (``corrected`` rewrites the text)."""
    result = AnalysisResult.objects.current().get(image=image)
    item = open_item(result)
    if corrected:
        return correct_description(item, reviewer=reviewer, text=corrected)
    return record_verdict(item, reviewer=reviewer, decision=decision)
