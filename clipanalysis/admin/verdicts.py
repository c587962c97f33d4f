"""Verdict history in the admin: read only (verdicts are append-only)."""

from __future__ import annotations

from django.contrib import admin

from clipanalysis.admin.display import score_badge
from clipanalysis.models import Verdict


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ["id", "sku", "decision", "reviewer", "score", "created_at", "comment"]
    list_select_related = ["review_item__image__product", "reviewer", "result"]
    list_filter = ["decision", ("reviewer", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["review_item__image__product__sku", "corrected_description", "comment"]
    readonly_fields = [
        "review_item",
        "result",
        "decision",
        "corrected_description",
        "comment",
        "reviewer",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # verdicts are recorded on the review page

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="SKU", ordering="review_item__image__product__sku")
    def sku(self, obj: Verdict) -> str:
        return obj.review_item.image.product.sku

    @admin.display(description="Similarity", ordering="result__similarity_score")
    def score(self, obj: Verdict) -> str:
        return score_badge(obj.result.similarity_score, obj.result.is_match)
