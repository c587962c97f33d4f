"""Analysis results (read only)."""

from __future__ import annotations

from rest_framework import viewsets

from clipanalysis.api.serializers.analyses import AnalysisResultSerializer
from clipanalysis.filtersets import AnalysisResultFilterSet
from clipanalysis.models import AnalysisResult
from config.api.query import ID_PATTERN, StrictQueryMixin


class AnalysisResultViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """CLIP and quality results; each image keeps its history, ``is_current`` marks the one used."""

    queryset = AnalysisResult.objects.select_related(
        "image__product", "model_version", "duplicate_of__product"
    )
    serializer_class = AnalysisResultSerializer
    filterset_class = AnalysisResultFilterSet
    ordering_fields = ["created_at", "finished_at", "similarity_score"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = ID_PATTERN
