"""The analysis pipeline: the one writer of ``AnalysisResult``.

``request_analysis`` records what must be scored and enqueues it after commit;
``analyse`` is what a worker runs for one result row; ``recover_stuck`` is the
sweeper for work whose worker died. The database, not the broker, is the
source of truth: every row carries a status and a lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task
from PIL import Image
from tqdm.auto import tqdm

from catalog.imaging import BadImageError, decode_image
from catalog.models import ProductImage, description_hash
from catalog.uploads import CheckedImage, store_listing_upload
from clipanalysis import quality, vocabularies
from clipanalysis.clip_service import ZERO_SHOT_TEMPLATES, ClipService, get_clip_service
from clipanalysis.image_signature import colour_histogram
from clipanalysis.models import AnalysisResult, ImageEmbedding, ModelVersion
from clipanalysis.near_duplicates import find_duplicate, record_signature
from clipanalysis.registry import active_model
from clipanalysis.review import sync_review_item
from clipanalysis.scoring import Judgement, ScoringOptions, calibrated_probability, judge

logger = logging.getLogger(__name__)

TASK_NAME = "clipanalysis.tasks.analyse_image"
RESCORE_CHUNK = 500
CALIBRATION_UPDATE_BATCH = 500
Status = AnalysisResult.Status


# --- 1. request -------------------------------------------------------------
def request_analysis(
    image_ids: Iterable[int],
    *,
    model_version: ModelVersion | None = None,
    retry_failed: bool = False,
) -> list[AnalysisResult]:
    """Make the result for each image's current (content, description, model) current.

    Idempotent: an existing row with the same key is reused, so saving a product
    twice neither duplicates work nor rows. New (and, with ``retry_failed``,
    failed) rows are enqueued when the surrounding transaction commits.
    """
    model_version = model_version or active_model()
    images = ProductImage.objects.filter(pk__in=list(image_ids)).select_related("product")
    results, to_enqueue = [], []
    for image in images:
        result, needs_work = _make_current(image, model_version, retry_failed)
        results.append(result)
        if needs_work:
            to_enqueue.append(result.pk)
        elif result.status == Status.DONE:
            sync_review_item(result)
    if to_enqueue:
        transaction.on_commit(lambda: enqueue(to_enqueue))
    return results


def analyse_upload(
    checked: CheckedImage,
    *,
    description: str,
    sku: str = "",
    title: str = "",
    update_product: bool = False,
) -> tuple[AnalysisResult, bool]:
    """Store a seed-style upload and ask for its analysis; return the result and whether
    the same file was already on the product.

    One transaction: ``catalog.uploads.store_listing_upload`` (product by SKU,
    image attached) and the request (idempotent: a known image and text reuse
    the existing result; a failed one is retried). Enqueued when it commits.
    An existing product with another description raises ``ListingConflict``
    unless ``update_product``.
    """
    with transaction.atomic():
        image, created = store_listing_upload(
            checked,
            description=description,
            sku=sku,
            title=title,
            update_product=update_product,
        )
        result = request_analysis([image.pk], retry_failed=True)[0]
    return result, not created


def _make_current(
    image: ProductImage, model_version: ModelVersion, retry_failed: bool
) -> tuple[AnalysisResult, bool]:
    text = image.product.description
    key = {
        "image": image,
        "image_hash": image.content_hash,
        "description_hash": description_hash(text),
        "model_version": model_version,
    }
    with transaction.atomic():
        AnalysisResult.objects.filter(image=image, is_current=True).exclude(**key).update(
            is_current=False
        )
        try:
            with transaction.atomic():
                result, created = AnalysisResult.objects.get_or_create(
                    **key, defaults={"description": text, "is_current": True}
                )
        except IntegrityError:  # created concurrently by another request
            result, created = AnalysisResult.objects.get(**key), False
        if not result.is_current:
            AnalysisResult.objects.filter(pk=result.pk).update(is_current=True)
            result.is_current = True
        if not created and retry_failed and result.status == Status.FAILED:
            AnalysisResult.objects.filter(pk=result.pk).update(
                status=Status.PENDING, attempts=0, error=""
            )
            result.status = Status.PENDING
            created = True
    return result, created


def enqueue(result_ids: Iterable[int]) -> None:
    """Send one wake-up per row. A broker that is down loses nothing: the row stays
    pending without ``enqueued_at`` and ``recover_stuck`` sends it again later."""
    result_ids = list(result_ids)
    AnalysisResult.objects.filter(pk__in=result_ids).update(enqueued_at=timezone.now())
    for result_id in result_ids:
        try:
            async_task(TASK_NAME, result_id, task_name=f"analyse-{result_id}", group="analysis")
        except Exception as error:  # redis ConnectionError, a locked ORM queue, …
            logger.warning(
                "Broker unavailable, analysis %s left to the sweeper: %s", result_id, error
            )
            AnalysisResult.objects.filter(pk=result_id, status=Status.PENDING).update(
                enqueued_at=None
            )


# --- 2. analyse ---------------------------------------------------------------
def claim(result_id: int) -> bool:
    """Take the row with one conditional UPDATE; False when someone else has it."""
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(status=Status.RUNNING, lease_expires_at__lt=now)
    return bool(
        AnalysisResult.objects.filter(claimable, pk=result_id)
        .filter(attempts__lt=settings.ANALYSIS_MAX_ATTEMPTS)
        .update(
            status=Status.RUNNING,
            lease_expires_at=now + timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS),
            attempts=F("attempts") + 1,
            started_at=now,
        )
    )


def analyse(result_id: int) -> str:
    """Run one analysis.

    1. claim the row (exit quietly if another worker got there first);
    2. decode the image and run the quality checks;
    3. score it against the description with CLIP (no transaction held);
    4. write the result;
    5. open, update or close its review item.
    """
    if not claim(result_id):
        return "skipped: another worker got there first, or it is finished"
    result = AnalysisResult.objects.select_related("image", "model_version").get(pk=result_id)
    try:
        fields = compute(result)
    except Exception as error:  # a failed analysis must never block the queue
        reason = (
            str(error) if isinstance(error, BadImageError) else f"{type(error).__name__}: {error}"
        )
        if not isinstance(error, BadImageError | FileNotFoundError):
            logger.exception("Analysis %s failed", result_id)
        _finish(result, {"status": Status.FAILED, "error": reason[:2000]})
        return f"failed: {reason}"
    _finish(result, {"status": Status.DONE, "error": "", **fields})
    sync_review_item(result)
    return result.status_text


def _finish(result: AnalysisResult, fields: dict) -> None:
    fields = {**fields, "finished_at": timezone.now(), "lease_expires_at": None}
    for name, value in fields.items():
        setattr(result, name, value)
    result.save(update_fields=list(fields))


@dataclass
class ImageFacts:
    report: quality.QualityReport
    duplicate_of: int | None
    duplicate_distance: int | None


def scoring_options(model_version: ModelVersion) -> ScoringOptions:
    """How ``model_version`` judges, with the zero-shot and explanation settings.

    The families and the zero-shot categories come from the attribute vocabularies
    (``clipanalysis.vocabularies``: admin-edited, re-read when they change).
    """
    families = vocabularies.current_families()
    category = families.get(vocabularies.CATEGORY)
    use_zero_shot = settings.CLIP_USE_ZERO_SHOT
    return ScoringOptions(
        threshold=model_version.threshold,
        calibration=model_version.calibration,
        zero_shot_labels=vocabularies.zero_shot_categories() if use_zero_shot else (),
        zero_shot_templates=category.templates if category else ZERO_SHOT_TEMPLATES,
        explain_families=families if settings.CLIP_EXPLAIN else {},
        conflict_confidence=settings.ATTRIBUTE_CONFLICT_CONFIDENCE,
    )


def service_for(model_version: ModelVersion) -> ClipService:
    return get_clip_service(model_version.name_or_path, threshold=model_version.threshold)


def compute(result: AnalysisResult) -> dict:
    """Quality checks and CLIP scoring for one row; returns the fields to write."""
    started = time.perf_counter()
    with result.image.image.open("rb") as handle:
        decoded = decode_image(
            handle, formats=settings.ALLOWED_IMAGE_FORMATS, max_pixels=settings.MAX_IMAGE_PIXELS
        )
    facts = check_quality(result.image, decoded.image)
    quality_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    model_version = result.model_version
    service = service_for(model_version)
    embedding = image_embedding(service, model_version, result.image_hash, decoded.image)
    [judgement] = judge(
        service, embedding[None, :], [result.description], scoring_options(model_version)
    )
    clip_ms = (time.perf_counter() - started) * 1000

    report = facts.report
    return {
        "quality": report.as_dict(),
        **report.summary_fields(),
        "duplicate_of_id": facts.duplicate_of,
        "duplicate_distance": facts.duplicate_distance,
        **judgement.result_fields(),
        "quality_ms": round(quality_ms, 2),
        "clip_ms": round(clip_ms, 2),
    }


@dataclass(frozen=True)
class UploadScore:
    """One pair of a batch-score call: its quality report and CLIP judgement."""

    report: quality.QualityReport
    judgement: Judgement


def score_uploads(
    images: Sequence[Image.Image], descriptions: Sequence[str]
) -> tuple[ModelVersion, list[UploadScore]]:
    """Score pairs that are not stored (batch scoring) with the worker's code and model.

    Duplicate detection needs stored images and is not part of it.
    """
    model_version = active_model()
    service = service_for(model_version)
    judgements = judge(
        service,
        service.image_embeddings(list(images)),
        list(descriptions),
        scoring_options(model_version),
    )
    preset = quality.get_preset(settings.QUALITY_PRESET)
    scores = [
        UploadScore(report=quality.run_quality_checks(image, preset), judgement=judgement)
        for image, judgement in zip(images, judgements, strict=True)
    ]
    return model_version, scores


def check_quality(image: ProductImage, pixels) -> ImageFacts:
    """Quality checks plus exact and near duplicates among other products' images."""
    preset = quality.get_preset(settings.QUALITY_PRESET)
    report = quality.run_quality_checks(pixels, preset)
    histogram = colour_histogram(pixels)
    record_signature(image.pk, report.perceptual_hash, histogram)
    return with_duplicate_check(image, report, histogram)


def with_duplicate_check(
    image: ProductImage, report: quality.QualityReport, histogram: bytes
) -> ImageFacts:
    """Add the ``duplicate`` check to ``report``, found through the band index.

    Its value is the distance to the duplicate, or the tolerance + 1 when no other
    product's image is within it (the index does not measure farther ones).
    """
    limit = settings.NEAR_DUPLICATE_MAX_DISTANCE
    found = find_duplicate(image, report.perceptual_hash, histogram, limit)
    report.checks = [check for check in report.checks if check.name != "duplicate"]
    report.checks.append(
        quality.CheckResult(
            name="duplicate",
            value=float(found.distance if found else limit + 1),
            passed=found is None,
            limit=f"> {limit} bits from, or other colours than, every other product's image",
            blocking=True,
        )
    )
    return ImageFacts(
        report=report,
        duplicate_of=found.image_id if found else None,
        duplicate_distance=found.distance if found else None,
    )


def image_embedding(
    service: ClipService, model_version: ModelVersion, image_hash: str, pixels
) -> torch.Tensor:
    """The stored embedding for (image content, model), computed once."""
    stored = ImageEmbedding.objects.filter(
        image_hash=image_hash, model_version=model_version
    ).first()
    if stored is not None:
        return torch.from_numpy(np.frombuffer(bytes(stored.vector), dtype=np.float32).copy())
    embedding = service.image_embeddings([pixels])[0]
    ImageEmbedding.objects.get_or_create(
        image_hash=image_hash,
        model_version=model_version,
        defaults={"vector": embedding.numpy().astype(np.float32).tobytes()},
    )
    return embedding


def match_probability(model_version: ModelVersion, score: float) -> float | None:
    """P(match) from the model's logistic calibration on reviewer verdicts, if fitted."""
    return calibrated_probability(model_version.calibration, score)


def rescore_catalog(model_version: ModelVersion, *, progress: bool = False) -> int:
    """Make every image's result for (content, description, ``model_version``) current.

    In chunks of ``RESCORE_CHUNK`` images per transaction: new rows are enqueued
    when their chunk commits; results the version already has (re-activating an
    older version) are reused. Old versions' results stay readable, no longer
    current; image embeddings are keyed by version, so nothing computed by
    another model is reused. Returns how many images were queued for scoring.
    ``progress`` (commands) shows a tqdm bar on stderr; the caller prints the summary.
    The scoring itself runs in the workers: the review dashboard and ``/healthz``
    show how much of it is left.
    """
    image_ids = list(ProductImage.objects.order_by("pk").values_list("pk", flat=True))
    queued = 0
    bar = tqdm(total=len(image_ids), disable=not progress, desc="queueing re-scoring", unit="image")
    for start in range(0, len(image_ids), RESCORE_CHUNK):
        chunk = image_ids[start : start + RESCORE_CHUNK]
        with transaction.atomic():
            results = request_analysis(chunk, model_version=model_version)
            queued += sum(result.status == Status.PENDING for result in results)
        bar.update(len(chunk))
    bar.close()
    logger.info("Re-scoring with %s: %d images queued", model_version, queued)
    return queued


def refresh_match_probabilities(model_version: ModelVersion) -> int:
    """Rewrite ``match_probability`` on the version's scored results after its calibration
    changed; returns how many changed.

    Uses ``match_probability``, the formula new results get, so old and new results
    agree. A worker that read the version before the calibration was stored may
    still write the old value for its one result; the next fit (daily) corrects it.
    """
    results = AnalysisResult.objects.filter(
        model_version=model_version, similarity_score__isnull=False
    ).only("pk", "similarity_score", "match_probability")
    changed = []
    updated = 0
    for result in results.iterator(chunk_size=2000):
        probability = match_probability(model_version, result.similarity_score)
        if probability != result.match_probability:
            result.match_probability = probability
            changed.append(result)
        if len(changed) >= CALIBRATION_UPDATE_BATCH:
            updated += AnalysisResult.objects.bulk_update(changed, ["match_probability"])
            changed = []
    if changed:
        updated += AnalysisResult.objects.bulk_update(changed, ["match_probability"])
    return updated


# --- 3. recover ---------------------------------------------------------------
def recover_stuck(now=None) -> dict[str, int]:
    """Re-enqueue work whose worker died or whose wake-up the broker lost.

    Running rows with an expired lease are re-enqueued (the claim accepts them)
    until they have used ``ANALYSIS_MAX_ATTEMPTS``; then they fail with a reason.
    Pending rows enqueued more than one lease ago are re-enqueued too (a Redis
    restart loses queued wake-ups). Duplicate wake-ups are harmless: only one
    worker can claim a row.
    """
    now = now or timezone.now()
    expired = AnalysisResult.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now)
    exhausted = expired.filter(attempts__gte=settings.ANALYSIS_MAX_ATTEMPTS)
    attempts = settings.ANALYSIS_MAX_ATTEMPTS
    failed = exhausted.update(
        status=Status.FAILED,
        error=f"Gave up after {attempts} attempts (worker lost or timed out).",
        finished_at=now,
        lease_expires_at=None,
    )
    stale_pending = AnalysisResult.objects.filter(
        Q(enqueued_at__isnull=True)
        | Q(enqueued_at__lt=now - timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS)),
        status=Status.PENDING,
        created_at__lt=now - timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS),
    )
    retry_ids = list(expired.values_list("pk", flat=True)) + list(
        stale_pending.values_list("pk", flat=True)
    )
    enqueue(retry_ids)
    return {"failed": failed, "requeued": len(retry_ids)}
