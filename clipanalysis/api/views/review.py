"""The review queue (read, record a verdict, correct a description) and verdicts (read)."""

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
from clipanalysis.api.serializers.review import (
    CorrectDescriptionRequestSerializer,
    ReviewItemSerializer,
    VerdictRequestSerializer,
    VerdictSerializer,
)
from clipanalysis.filtersets import ReviewItemFilterSet, VerdictFilterSet
from clipanalysis.models import ReviewItem, Verdict
from clipanalysis.models.review_queue import QUEUE_ORDER
from config.api.errors import Conflict, ErrorSerializer
from config.api.permissions import CanRecordVerdicts
from config.api.query import ID_PATTERN, StrictQueryMixin

VERDICT_ERRORS = {
    201: VerdictSerializer,
    200: OpenApiResponse(
        VerdictSerializer,
        description="The same reviewer already recorded exactly this (a repeated request): "
        "nothing new was recorded.",
    ),
    409: OpenApiResponse(ErrorSerializer, description="The item is already resolved."),
}


class ReviewItemViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """The review queue, most informative first (score closest to the threshold)."""

    queryset = ReviewItem.objects.select_related(
        "image__product", "result__duplicate_of__product", "result__image__product", "assigned_to"
    ).prefetch_related(
        Prefetch(
            "verdicts",
            queryset=Verdict.objects.select_related(
                "reviewer", "review_item__image"
            ).newest_first(),
        )
    )
    serializer_class = ReviewItemSerializer
    filterset_class = ReviewItemFilterSet
    ordering_fields = ["priority", "opened_at", "resolved_at"]
    ordering = list(QUEUE_ORDER)
    lookup_value_regex = ID_PATTERN

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
        try:
            with review_errors():
                verdict = record(item, reviewer=request.user, **serializer.validated_data)
        except review.AlreadyRecorded as repeat:
            return Response(VerdictSerializer(repeat.verdict).data, status=status.HTTP_200_OK)
        return Response(VerdictSerializer(verdict).data, status=status.HTTP_201_CREATED)


@contextmanager
def review_errors():
    """``AlreadyResolved`` becomes a 409; any other ``ReviewError`` a 400 with its message.

    ``AlreadyRecorded`` (a repeat of the reviewer's own verdict) passes through: not an error.
    """
    try:
        yield
    except review.AlreadyRecorded:
        raise
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
    lookup_value_regex = ID_PATTERN
