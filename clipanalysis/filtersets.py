"""Filters for analyses, review items and verdicts (each with a ``q`` search)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from clipanalysis.models import AnalysisResult, ReviewItem, Verdict
from config.api.query import BooleanFilter, IdFilter


class AnalysisResultFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search description, SKU and error.")
    status = filters.ChoiceFilter(choices=AnalysisResult.Status.choices)
    is_current = BooleanFilter(help_text="Only the result each image is judged by now.")
    is_match = BooleanFilter(help_text="CLIP match decision.")
    quality_passed = BooleanFilter(help_text="All blocking quality checks passed.")
    model_version = filters.CharFilter(
        field_name="model_version__version", help_text="Model version slug."
    )
    image = IdFilter(field_name="image_id", help_text="Image id.")
    product = IdFilter(field_name="image__product_id", help_text="Product id.")
    sku = filters.CharFilter(field_name="image__product__sku", help_text="Exact SKU.")
    score_min = filters.NumberFilter(
        field_name="similarity_score", lookup_expr="gte", help_text="Similarity at least this."
    )
    score_max = filters.NumberFilter(
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
    state = filters.ChoiceFilter(choices=ReviewItem.State.choices)
    is_open = BooleanFilter(method="filter_open", help_text="Not resolved yet.")
    primary_reason = filters.ChoiceFilter(choices=ReviewItem.Reason.choices)
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
    decision = filters.ChoiceFilter(choices=Verdict.Decision.choices)
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
