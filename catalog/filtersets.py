"""Filters for the product and image API (every model has a ``q`` search).

A product's analysis ``status`` is derived from its images' current results,
in this order of precedence: ``no_images``; ``pending`` (an image whose current
result has not finished, or has none yet); ``failed``; ``flagged`` (a finished
result that mismatches or fails a blocking quality check); ``passed``.
``product_analysis_status`` computes the same from prefetched rows, so the
``status`` field of a product always agrees with the ``status`` filter.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters import rest_framework as filters

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult, ReviewItem
from config.api.query import BooleanFilter, IdFilter

Status = AnalysisResult.Status
FINISHED = (Status.DONE, Status.FAILED)


class ProductAnalysisStatus:
    NO_IMAGES = "no_images"
    PENDING = "pending"
    FAILED = "failed"
    FLAGGED = "flagged"
    PASSED = "passed"
    CHOICES = [
        (NO_IMAGES, "No images yet"),
        (PENDING, "Analysis pending or running"),
        (FAILED, "An analysis failed"),
        (FLAGGED, "Mismatch or failed quality check"),
        (PASSED, "Every image matches and passes quality"),
    ]


def _product_conditions() -> dict[str, Q]:
    images = ProductImage.objects.filter(product=OuterRef("pk"))
    finished_current = AnalysisResult.objects.filter(
        image=OuterRef("pk"), is_current=True, status__in=FINISHED
    )
    current = AnalysisResult.objects.current().filter(image__product=OuterRef("pk"))
    has_images = Q(Exists(images))
    unfinished = Q(Exists(images.filter(~Exists(finished_current))))
    failed = Q(Exists(current.filter(status=Status.FAILED)))
    flagged = Q(Exists(current.flagged()))
    return {
        ProductAnalysisStatus.NO_IMAGES: ~has_images,
        ProductAnalysisStatus.PENDING: unfinished,
        ProductAnalysisStatus.FAILED: ~unfinished & failed,
        ProductAnalysisStatus.FLAGGED: ~unfinished & ~failed & flagged,
        ProductAnalysisStatus.PASSED: has_images & ~unfinished & ~failed & ~flagged,
    }


def product_analysis_status(current_results: list[AnalysisResult | None]) -> str:
    """The status of a product from its images' current results (``None``: no result yet)."""
    if not current_results:
        return ProductAnalysisStatus.NO_IMAGES
    if any(result is None or result.status not in FINISHED for result in current_results):
        return ProductAnalysisStatus.PENDING
    if any(result.status == Status.FAILED for result in current_results):
        return ProductAnalysisStatus.FAILED
    if any(
        result.is_match is False or result.quality_passed is False for result in current_results
    ):
        return ProductAnalysisStatus.FLAGGED
    return ProductAnalysisStatus.PASSED


def open_review_exists() -> Exists:
    return Exists(ReviewItem.objects.open().filter(image__product=OuterRef("pk")))


def score_in_range(prefix: str, low: float | None, high: float | None) -> Q:
    """Products (``prefix`` "image__product") or images with a current result scored in range."""
    results = AnalysisResult.objects.current().filter(**{prefix: OuterRef("pk")})
    if low is not None:
        results = results.filter(similarity_score__gte=low)
    if high is not None:
        results = results.filter(similarity_score__lte=high)
    return Q(Exists(results))


class ScoreRangeFilterSet(filters.FilterSet):
    """``score_min`` and ``score_max`` apply together: one current result must be in range."""

    score_prefix = ""
    score_min = filters.NumberFilter(
        method="filter_score", help_text="Current similarity score at least this (0-1)."
    )
    score_max = filters.NumberFilter(
        method="filter_score", help_text="Current similarity score at most this (0-1)."
    )

    def filter_score(self, queryset: QuerySet, name: str, value: float) -> QuerySet:
        return queryset  # applied together in filter_queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        low, high = self.form.cleaned_data.get("score_min"), self.form.cleaned_data.get("score_max")
        if low is None and high is None:
            return queryset
        return queryset.filter(score_in_range(self.score_prefix, _as_float(low), _as_float(high)))


def _as_float(value) -> float | None:
    return None if value is None else float(value)


class ProductFilterSet(ScoreRangeFilterSet):
    score_prefix = "image__product"

    q = filters.CharFilter(method="search", help_text="Search SKU, title and description.")
    sku = filters.CharFilter(field_name="sku", help_text="Exact SKU.")
    category = filters.CharFilter(field_name="category", help_text="Exact category.")
    status = filters.ChoiceFilter(
        choices=ProductAnalysisStatus.CHOICES,
        method="filter_status",
        help_text="Analysis status derived from the images' current results.",
    )
    has_open_review = BooleanFilter(
        method="filter_open_review", help_text="An image of the product waits in the review queue."
    )

    class Meta:
        model = Product
        fields = ["q", "sku", "category", "status", "has_open_review", "score_min", "score_max"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.search(value)

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(_product_conditions()[value])

    def filter_open_review(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(open_review_exists() if value else ~open_review_exists())


class ProductImageFilterSet(ScoreRangeFilterSet):
    score_prefix = "image"

    q = filters.CharFilter(method="search", help_text="Search file name, SKU and product title.")
    product = IdFilter(field_name="product_id", help_text="Product id.")
    sku = filters.CharFilter(field_name="product__sku", help_text="Exact product SKU.")
    content_hash = filters.CharFilter(field_name="content_hash", help_text="sha256 of the file.")

    class Meta:
        model = ProductImage
        fields = ["q", "product", "sku", "content_hash", "score_min", "score_max"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(original_filename__icontains=value)
            | Q(product__sku__icontains=value)
            | Q(product__title__icontains=value)
        )
