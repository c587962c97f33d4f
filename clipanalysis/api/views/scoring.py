"""Scoring endpoints for catalog systems: the seed-compatible ``/upload`` and batch scoring.

``/upload`` stores what it scores (product mirrored by SKU, image attached,
analysis by the normal pipeline); ``/api/v1/batch-score/`` stores nothing and
answers from the active model at once, for checks before publishing.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.pixel_budget import PixelBudgetBusy, PixelBudgetError
from catalog.uploads import CheckedImage, ListingConflict, decoded_uploads
from clipanalysis import pipeline
from clipanalysis.api.serializers.analyses import check_failure_text, mismatch_text
from clipanalysis.api.serializers.scoring import (
    BatchScoreRequestSerializer,
    BatchScoreResponseSerializer,
    SeedUploadRequestSerializer,
    SeedUploadResultSerializer,
    UploadAcceptedSerializer,
)
from clipanalysis.models import AnalysisResult
from config.api.errors import Conflict, ErrorSerializer, PayloadTooLarge, ServiceUnavailable
from config.api.parsers import SizeLimitedMultiPartParser
from config.api.query import StrictQueryMixin
from config.env import parse_bool

FINISHED = (AnalysisResult.Status.DONE, AnalysisResult.Status.FAILED)
POLL_INTERVAL_SECONDS = 0.2


def wait_for_analysis(result_id: int, timeout: float) -> AnalysisResult:
    """Poll the row until it has finished or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + max(0.0, timeout)
    rows = AnalysisResult.objects.select_related("image__product", "model_version")
    while True:
        result = rows.get(pk=result_id)
        remaining = deadline - time.monotonic()
        if result.status in FINISHED or remaining <= 0:
            return result
        time.sleep(min(POLL_INTERVAL_SECONDS, remaining))


def parse_flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "")
    value = parse_bool(raw) if raw.strip() else False
    if value is None:
        raise ValidationError({name: ["Use 1/true or 0/false."]})
    return value


def listing_conflict(conflict: ListingConflict) -> Conflict:
    """A 409 that says what the product has, field by field, and how to replace it."""
    error = Conflict(f"{conflict} Send ?update=1 to replace it (its images are re-scored).")
    error.fields = {
        name: [f"The product has {stored!r}; this upload says {sent!r}."]
        for name, (stored, sent) in conflict.changes.items()
    }
    return error


class SeedUploadView(StrictQueryMixin, APIView):
    """The seed's ``POST /upload``, backed by the real pipeline."""

    parser_classes = [SizeLimitedMultiPartParser]
    # It creates the product if needed, updates its text, and adds the image.
    required_permissions = {
        "POST": ["catalog.add_productimage", "catalog.add_product", "catalog.change_product"]
    }
    extra_query_params = ("async", "update")

    @extend_schema(
        operation_id="upload_image",
        summary="Upload an image with its description (seed-compatible)",
        description=(
            "Stores the image on the product with this SKU (created if missing) and scores it "
            "against the description. Waits up to UPLOAD_WAIT_SECONDS for the analysis and "
            "answers 200 with the result; with `?async=1`, or when the wait runs out, answers "
            "202 with the URL to poll. The same file on the same product is recognised by its "
            "content hash and not analysed again. An existing product is never rewritten "
            "silently: a description (or a title) other than the product's is a 409 that shows "
            "what the product has, and nothing is stored; with `?update=1` it becomes the "
            "product's description and all its images are re-scored. When the queue "
            "cannot be reached the upload is still stored and answered 202 with Retry-After: "
            "the sweeper (recover_stuck) starts its analysis once the queue is back."
        ),
        request=SeedUploadRequestSerializer,
        parameters=[
            OpenApiParameter(
                "async",
                bool,
                description="Answer 202 at once instead of waiting for the analysis.",
            ),
            OpenApiParameter(
                "update",
                bool,
                description="Replace an existing product's description (and title, when "
                "sent) with this upload's, re-scoring its images. Without it a different "
                "description is a 409.",
            ),
        ],
        responses={
            200: OpenApiResponse(SeedUploadResultSerializer, description="Analysed."),
            202: OpenApiResponse(UploadAcceptedSerializer, description="Stored; still analysing."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The SKU's product has another description (or title); "
                "`fields` shows what it has. Send `?update=1` to replace it.",
            ),
        },
        tags=["upload"],
    )
    def post(self, request: Request) -> Response:
        run_async = parse_flag(request, "async")
        update_product = parse_flag(request, "update")
        serializer = SeedUploadRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result, already_uploaded = pipeline.analyse_upload(
                data["file"],
                description=data["description"],
                sku=data.get("sku", ""),
                title=data.get("title", ""),
                update_product=update_product,
            )
        except ListingConflict as conflict:
            raise listing_conflict(conflict) from conflict
        # A wake-up the broker did not take leaves the row without ``enqueued_at``: no worker
        # will come before the sweeper does, so waiting is pointless.
        queued = AnalysisResult.objects.filter(pk=result.pk, enqueued_at__isnull=False).exists()
        wait = settings.UPLOAD_WAIT_SECONDS if queued and not run_async else 0.0
        # Async still reads the row once: in a one-process setup it may be done already.
        result = wait_for_analysis(result.pk, wait)
        if not run_async and result.status in FINISHED:
            body = SeedUploadResultSerializer(
                result, context={"request": request, "already_uploaded": already_uploaded}
            ).data
            return Response(body, status=status.HTTP_200_OK)
        # Absolute, like the image URLs the API gives.
        poll_url = request.build_absolute_uri(
            reverse("analysisresult-detail", kwargs={"pk": result.pk})
        )
        body = UploadAcceptedSerializer(
            {
                "id": result.image_id,
                "analysis_id": result.pk,
                "status": result.status,
                "poll_url": poll_url,
                "already_uploaded": already_uploaded,
            }
        ).data
        headers = {"Location": poll_url}
        if not queued and result.status not in FINISHED:
            headers["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


def batch_rows(scores: list[pipeline.UploadScore]) -> list[dict]:
    """Each pair's judgement in the response's terms: the quality numbers, passed, reason."""
    rows = []
    for scored in scores:
        report, judgement = scored.report, scored.judgement
        reasons = (
            []
            if judgement.is_match
            else [mismatch_text(judgement.similarity_score, judgement.threshold)]
        )
        reasons += [
            check_failure_text(check.name, check.value, check.limit)
            for check in report.checks
            if check.blocking and not check.passed
        ]
        rows.append(
            {
                "similarity_score": judgement.similarity_score,
                "is_match": judgement.is_match,
                **report.summary_fields(),
                "passed": judgement.is_match and report.passed,
                "reason": "; ".join(reasons) if reasons else "All checks passed.",
            }
        )
    return rows


class BatchScoreView(StrictQueryMixin, APIView):
    """Score up to BATCH_MAX_ITEMS image/description pairs without storing anything."""

    parser_classes = [SizeLimitedMultiPartParser]
    permission_classes = [IsAuthenticated]
    throttle_scope = "batch"

    @staticmethod
    def max_upload_files() -> int:
        return settings.BATCH_MAX_ITEMS

    @extend_schema(
        operation_id="batch_score",
        summary="Score image/description pairs without storing them",
        description=(
            "For catalog systems that check before publishing: send `file` and `descriptions` "
            "(repeat each field, same order; `files` is the old name of `file`), at most "
            "BATCH_MAX_ITEMS pairs and BATCH_MAX_PIXELS pixels in all (a 413 beyond). Nothing "
            "is stored; "
            "the active model scores every pair and the quality checks run on every image "
            "(duplicate detection needs stored images and is not part of it)."
        ),
        request=BatchScoreRequestSerializer,
        responses={200: BatchScoreResponseSerializer},
        tags=["batch-score"],
    )
    def post(self, request: Request) -> Response:
        serializer = BatchScoreRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        checked: list[CheckedImage] = serializer.validated_data["file"]
        descriptions: list[str] = serializer.validated_data["descriptions"]
        try:
            with decoded_uploads(checked) as images:
                model_version, scores = pipeline.score_uploads(images, descriptions)
        except PixelBudgetBusy as error:
            raise ServiceUnavailable(
                str(error), retry_after=settings.RETRY_AFTER_SECONDS
            ) from error
        except PixelBudgetError as error:
            raise PayloadTooLarge(str(error), field="file") from error
        rows = batch_rows(scores)
        results = [
            {
                "index": index,
                "filename": item.filename,
                "description": description,
                "width": item.decoded.width,
                "height": item.decoded.height,
                **row,
            }
            for index, (item, description, row) in enumerate(
                zip(checked, descriptions, rows, strict=True)
            )
        ]
        body = {
            "model_version": model_version.version,
            "threshold": model_version.threshold,
            "results": results,
        }
        return Response(BatchScoreResponseSerializer(body).data)
