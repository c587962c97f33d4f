"""The review queue (read, record, undo, revise, history, correct) and verdicts (read)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clipanalysis import review
from clipanalysis.api.serializers.review import (
    CorrectDescriptionRequestSerializer,
    ReviewItemSerializer,
    ReviseRequestSerializer,
    VerdictChangeSerializer,
    VerdictRequestSerializer,
    VerdictSerializer,
)
from clipanalysis.filtersets import ReviewItemFilterSet, VerdictFilterSet
from clipanalysis.models import ReviewItem, Verdict
from clipanalysis.models.review_queue import queue_ordering
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
    """The review queue in ``REVIEW_QUEUE_ORDER`` (default: most likely real problems first)."""

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
    ordering_fields = ["priority", "uncertainty", "opened_at", "resolved_at"]

    @property
    def ordering(self) -> list[str]:
        """The default order follows ``REVIEW_QUEUE_ORDER``, read per request."""
        return list(queue_ordering())

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

    @extend_schema(
        summary="Undo your last verdict (it is kept, retracted; the item goes back to you)",
        request=None,
        responses={
            200: ReviewItemSerializer,
            400: OpenApiResponse(ErrorSerializer, description="You have no verdict to undo."),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="undo",
        permission_classes=[CanRecordVerdicts],
        serializer_class=serializers.Serializer,  # no body; OPTIONS describes an empty one
    )
    def undo(self, request) -> Response:
        with review_errors():
            item = review.undo_last_verdict(request.user)
        item = self.get_queryset().get(pk=item.pk)
        return Response(ReviewItemSerializer(item, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Revise the verdict that counts on an item, with a reason",
        request=ReviseRequestSerializer,
        responses={
            201: VerdictSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="No reason, the same decision, or no verdict to revise.",
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CanRecordVerdicts],
        serializer_class=ReviseRequestSerializer,
    )
    def revise(self, request, pk=None) -> Response:
        item = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with review_errors():
            verdict = review.revise_verdict(
                item, reviewer=request.user, **serializer.validated_data
            )
        return Response(VerdictSerializer(verdict).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The item's verdict history, newest first (who, when, before, after, why)",
        responses=VerdictChangeSerializer(many=True),
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=VerdictChangeSerializer,
        pagination_class=None,  # an item's history is short: one list, no page parameters
    )
    def history(self, request, pk=None) -> Response:
        item = self.get_object()
        changes = item.changes.select_related("changed_by").order_by("-changed_at", "-id")
        return Response(VerdictChangeSerializer(changes, many=True).data)

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
