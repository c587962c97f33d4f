"""The review queue's "Why" column: ``clipanalysis.review_findings.why`` in short."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from clipanalysis.models import ReviewItem
from clipanalysis.review_findings import why


class WhyColumnMixin:
    """Adds ``why`` (list it in ``list_display``) and selects what it reads."""

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("result__duplicate_of__product")

    @admin.display(description="Why")
    def why(self, obj: ReviewItem) -> str:
        phrases = why(obj.result, obj.image.product)
        if not phrases:
            return "—"
        return format_html_join("", '<div class="why-phrase">{}</div>', ((p,) for p in phrases))
