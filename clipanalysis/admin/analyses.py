"""Admin for analysis results (read only: the pipeline writes them)."""

from __future__ import annotations

from django.contrib import admin

from clipanalysis.admin.display import score_badge, thumbnail
from clipanalysis.models import AnalysisResult


@admin.register(AnalysisResult)
class AnalysisResultAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "preview",
        "sku",
        "status",
        "score",
        "quality_passed",
        "quality_failures",
        "zero_shot_label",
        "model_version",
        "is_current",
        "created_at",
    ]
    list_select_related = ["image__product", "model_version"]
    list_filter = ["status", "is_match", "quality_passed", "is_current", "model_version"]
    search_fields = ["image__product__sku", "description"]
    readonly_fields = [field.name for field in AnalysisResult._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Image")
    def preview(self, obj: AnalysisResult) -> str:
        return thumbnail(obj.image, 64)

    @admin.display(description="SKU", ordering="image__product__sku")
    def sku(self, obj: AnalysisResult) -> str:
        return obj.image.product.sku

    @admin.display(description="Similarity", ordering="similarity_score")
    def score(self, obj: AnalysisResult) -> str:
        return score_badge(obj.similarity_score, obj.is_match)
