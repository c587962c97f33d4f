"""Filters for every API list (each with a ``q`` search)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult, ModelVersion, ReviewItem, Verdict
from clipanalysis.product_status import ProductAnalysisStatus, open_review_exists, score_in_range
from config.api.query import BooleanFilter, BoundedNumberFilter, IdFilter, StrictChoiceFilter


class AnalysisResultFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search description, SKU and error.")
    status = StrictChoiceFilter(choices=AnalysisResult.Status.choices)
    is_current = BooleanFilter(help_text="Only the result each image is judged by now.")
    is_match = BooleanFilter(help_text="CLIP match decision.")
    quality_passed = BooleanFilter(help_text="All blocking quality checks passed.")
    model_version = filters.CharFilter(
        field_name="model_version__version", help_text="Model version slug."
    )
    image = IdFilter(field_name="image_id", help_text="Image id.")
    product = IdFilter(field_name="image__product_id", help_text="Product id.")
    sku = filters.CharFilter(field_name="image__product__sku", help_text="Exact SKU.")
    score_min = BoundedNumberFilter(
        field_name="similarity_score", lookup_expr="gte", help_text="Similarity at least this."
    )
    score_max = BoundedNumberFilter(
        field_name="similarity_score", lookup_expr="lte", help_text="Similarity at most this."
    )

    class Meta:
        model = AnalysisResult
        fields = [
            "q",
            "status",
            "is_current",
            "is_match",
            "quality_passed",
            "model_version",
            "image",
            "product",
            "sku",
            "score_min",
            "score_max",
        ]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(description__icontains=value)
            | Q(image__product__sku__icontains=value)
            | Q(error__icontains=value)
        )


class ReviewItemFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search SKU, title and scored text.")
    state = StrictChoiceFilter(choices=ReviewItem.State.choices)
    is_open = BooleanFilter(method="filter_open", help_text="Not resolved yet.")
    primary_reason = StrictChoiceFilter(choices=ReviewItem.Reason.choices)
    image = IdFilter(field_name="image_id", help_text="Image id.")
    product = IdFilter(field_name="image__product_id", help_text="Product id.")
    sku = filters.CharFilter(field_name="image__product__sku", help_text="Exact SKU.")

    class Meta:
        model = ReviewItem
        fields = ["q", "state", "is_open", "primary_reason", "image", "product", "sku"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(image__product__sku__icontains=value)
            | Q(image__product__title__icontains=value)
            | Q(result__description__icontains=value)
        )

    def filter_open(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.open() if value else queryset.resolved()


class VerdictFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search comment, corrected text and SKU.")
    decision = StrictChoiceFilter(choices=Verdict.Decision.choices)
    review_item = IdFilter(field_name="review_item_id", help_text="Review item id.")
    product = IdFilter(field_name="review_item__image__product_id", help_text="Product id.")
    reviewer = filters.CharFilter(field_name="reviewer__username", help_text="Reviewer username.")

    class Meta:
        model = Verdict
        fields = ["q", "decision", "review_item", "product", "reviewer"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(comment__icontains=value)
            | Q(corrected_description__icontains=value)
            | Q(review_item__image__product__sku__icontains=value)
        )


class ScoreRangeFilterSet(filters.FilterSet):
    """``score_min`` and ``score_max`` apply together: one current result must be in range."""

    score_prefix = ""
    score_min = BoundedNumberFilter(
        method="filter_score", help_text="Current similarity score at least this (0-1)."
    )
    score_max = BoundedNumberFilter(
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
    status = StrictChoiceFilter(
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
        """Needs the ``analysis_status`` annotation (``with_analysis_status``)."""
        return queryset.filter(analysis_status=value)

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


class ModelVersionFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search version, location and base model.")
    source = StrictChoiceFilter(choices=ModelVersion.Source.choices)
    is_active = BooleanFilter()

    class Meta:
        model = ModelVersion
        fields = ["q", "source", "is_active"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(version__icontains=value)
            | Q(name_or_path__icontains=value)
            | Q(base_model__icontains=value)
        )
