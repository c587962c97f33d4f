"""Analyses (read), the review queue (read, record a verdict, correct a description), verdicts."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clipanalysis import review
from clipanalysis.api.serializers import (
    AnalysisResultSerializer,
    CorrectDescriptionRequestSerializer,
    ReviewItemSerializer,
    VerdictRequestSerializer,
    VerdictSerializer,
)
from clipanalysis.filtersets import AnalysisResultFilterSet, ReviewItemFilterSet, VerdictFilterSet
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict
from config.api.errors import Conflict, ErrorSerializer
from config.api.permissions import CanRecordVerdicts
from config.api.query import StrictQueryMixin


class AnalysisResultViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """CLIP and quality results; each image keeps its history, ``is_current`` marks the one used."""

    queryset = AnalysisResult.objects.select_related("image__product", "model_version")
    serializer_class = AnalysisResultSerializer
    filterset_class = AnalysisResultFilterSet
    ordering_fields = ["created_at", "finished_at", "similarity_score"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = "[0-9]+"


VERDICT_ERRORS = {
    201: VerdictSerializer,
    409: OpenApiResponse(ErrorSerializer, description="The item is already resolved."),
}


class ReviewItemViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """The review queue, most informative first (score closest to the threshold)."""

    queryset = ReviewItem.objects.select_related(
        "image__product", "result", "assigned_to"
    ).prefetch_related(
        Prefetch(
            "verdicts",
            queryset=Verdict.objects.select_related("reviewer", "review_item__image").order_by(
                "-created_at", "-id"
            ),
        )
    )
    serializer_class = ReviewItemSerializer
    filterset_class = ReviewItemFilterSet
    ordering_fields = ["priority", "opened_at", "resolved_at"]
    ordering = ["priority", "-opened_at", "-id"]
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        summary="Record a verdict on a review item",
        request=VerdictRequestSerializer,
        responses=VERDICT_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CanRecordVerdicts],
        serializer_class=VerdictRequestSerializer,
    )
    def verdict(self, request, pk=None) -> Response:
        return self._review(request, review.record_verdict)

    @extend_schema(
        summary="Correct the product description (records a mismatch verdict and re-scores)",
        request=CorrectDescriptionRequestSerializer,
        responses=VERDICT_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="correct-description",
        permission_classes=[CanRecordVerdicts],
        serializer_class=CorrectDescriptionRequestSerializer,
    )
    def correct_description(self, request, pk=None) -> Response:
        return self._review(request, review.correct_description)

    def _review(self, request, record: Callable[..., Verdict]) -> Response:
        """Validate the action's request body, then record it on the item through ``review``."""
        item = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with review_errors():
            verdict = record(item, reviewer=request.user, **serializer.validated_data)
        return Response(VerdictSerializer(verdict).data, status=status.HTTP_201_CREATED)


@contextmanager
def review_errors():
    """``AlreadyResolved`` becomes a 409; any other ``ReviewError`` a 400 with its message."""
    try:
        yield
    except review.AlreadyResolved as error:
        raise Conflict(error.message) from error
    except review.ReviewError as error:
        raise ValidationError({"non_field_errors": [error.message]}) from error


class VerdictViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """Reviewers' decisions, newest first (append-only)."""

    queryset = Verdict.objects.select_related("reviewer", "review_item__image")
    serializer_class = VerdictSerializer
    filterset_class = VerdictFilterSet
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = "[0-9]+"
