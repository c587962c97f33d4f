"""Review page helpers: ``{{ result|why:product }}`` (the phrases of
``clipanalysis.review_findings.why``) and ``{% duplicate_figure result %}`` (the
other product's image that this one duplicates, shown beside it)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from clipanalysis.models import ReviewItem
from clipanalysis.review_findings import duplicate_phrase
from clipanalysis.review_findings import why as why_phrases

register = template.Library()


@register.filter
def why(result, product=None) -> list[str]:
    return why_phrases(result, product)


@register.inclusion_tag("admin/clipanalysis/reviewitem/_duplicate.html")
def duplicate_figure(result) -> dict:
    """The duplicated image with its product, a link to the product and, when that image
    is in the queue too, to its review."""
    other = result.duplicate_of if result is not None and result.duplicate_of_id else None
    if other is None:
        return {"other": None}
    product = other.product
    item = ReviewItem.objects.open().filter(image=other).only("pk").first()
    return {
        "other": other,
        "other_product": product,
        "caption": duplicate_phrase(product.sku, result.duplicate_distance),
        "product_url": reverse("admin:catalog_product_change", args=[product.pk]),
        "review_url": (
            reverse("admin:clipanalysis_reviewitem_review", args=[item.pk]) if item else ""
        ),
    }
