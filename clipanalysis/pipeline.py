"""The analysis pipeline: the one writer of ``AnalysisResult``.

``request_analysis`` records what must be scored and enqueues it after commit;
``analyse`` is what a worker runs for one result row; ``recover_stuck`` is the
sweeper for work whose worker died. The database, not the broker, is the
source of truth: every row carries a status and a lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task
from PIL import Image
from tqdm.auto import tqdm

from catalog.imaging import BadImageError, DecodedImage, decode_image
from catalog.models import ProductImage, description_hash
from catalog.uploads import CheckedImage, store_listing_upload
from clipanalysis import leases, quality, vocabularies
from clipanalysis.clip_service import ZERO_SHOT_TEMPLATES, ClipService, get_clip_service
from clipanalysis.explanation import explain
from clipanalysis.image_signature import colour_histogram
from clipanalysis.models import AnalysisResult, ImageEmbedding, ModelVersion
from clipanalysis.near_duplicates import find_duplicate, record_signature
from clipanalysis.registry import active_model
from clipanalysis.review import sync_review_item
from clipanalysis.scoring import (
    Judgement,
    ScoringOptions,
    calibrated_probability,
    judge,
    zero_shot_ranking,
)

logger = logging.getLogger(__name__)

TASK_NAME = "clipanalysis.tasks.analyse_image"
RESCORE_CHUNK = 500
# Files decoded at once by one batch (Pillow releases the GIL while it decodes).
DECODE_THREADS = 4
CALIBRATION_UPDATE_BATCH = 500
Status = AnalysisResult.Status


# --- 1. request -------------------------------------------------------------
def request_analysis(
    image_ids: Iterable[int],
    *,
    model_version: ModelVersion | None = None,
    retry_failed: bool = False,
    enqueue_new: bool = True,
) -> list[AnalysisResult]:
    """Make the result for each image's current (content, description, model) current.

    Idempotent: an existing row with the same key is reused, so saving a product
    twice neither duplicates work nor rows. New (and, with ``retry_failed``,
    failed) rows are enqueued when the surrounding transaction commits, unless
    ``enqueue_new`` is false (the caller scores them itself: ``score_catalog``).
    """
    model_version = model_version or active_model()
    images = ProductImage.objects.filter(pk__in=list(image_ids)).select_related("product")
    results, to_enqueue = [], []
    for image in images:
        try:
            result, needs_work = _make_current(image, model_version, retry_failed)
        except IntegrityError:
            if ProductImage.objects.filter(pk=image.pk).exists():
                raise
            continue  # deleted by a concurrent request meanwhile: nothing left to analyse
        results.append(result)
        if needs_work:
            to_enqueue.append(result.pk)
        elif result.status == Status.DONE:
            sync_review_item(result)
    if to_enqueue and enqueue_new:
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
        if not created and (
            (retry_failed and result.status == Status.FAILED)
            or _judged_otherwise(result, model_version)
        ):
            AnalysisResult.objects.filter(pk=result.pk).update(
                status=Status.PENDING, attempts=0, error=""
            )
            result.status = Status.PENDING
            created = True
    return result, created


def _judged_otherwise(result: AnalysisResult, model_version: ModelVersion) -> bool:
    """A finished result judged at another threshold than its model's (the threshold was
    changed, e.g. by a rollback): judged again, from its stored embedding and report."""
    return (
        result.status == Status.DONE
        and result.threshold is not None
        and result.threshold != model_version.threshold
    )


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
def claim(result_id: int) -> str | None:
    """Take the row with one conditional UPDATE; its new lease token, or None when
    someone else has it (or it is finished, or out of attempts)."""
    now = timezone.now()
    token = leases.new_token()
    claimable = Q(status=Status.PENDING) | Q(status=Status.RUNNING, lease_expires_at__lt=now)
    claimed = (
        AnalysisResult.objects.filter(claimable, pk=result_id)
        .filter(attempts__lt=settings.ANALYSIS_MAX_ATTEMPTS)
        .update(
            status=Status.RUNNING,
            lease_owner=token,
            lease_expires_at=leases.lease_deadline(now),
            attempts=F("attempts") + 1,
            started_at=now,
        )
    )
    return token if claimed else None


def analyse(result_id: int) -> str:
    """Run the analysis a wake-up names, with whatever else is waiting, as one batch.

    1. claim the row (exit quietly if another worker got there first), then up to
       ``CLIP_BATCH_SIZE - 1`` other pending rows of its model version
       (``leases.claim_pending``): a bulk import's wake-ups find most of their rows
       already taken and return at once, so the import runs at batch speed;
    2. score them together (``analyse_claimed``); the named row's outcome is returned.
    """
    token = claim(result_id)
    if token is None:
        return "skipped: another worker got there first, or it is finished"
    model_version_id = (
        AnalysisResult.objects.filter(pk=result_id).values_list("model_version_id", flat=True)
    ).get()
    mates = leases.claim_pending(model_version_id, settings.CLIP_BATCH_SIZE - 1, exclude=result_id)
    results = analyse_claimed({result_id: token, **mates})
    result = results[result_id]
    if result.status == Status.RUNNING:
        return LEASE_LOST
    if result.status == Status.FAILED:
        return f"failed: {result.error}"
    return result.status_text


LEASE_LOST = "dropped: the lease was taken over, another worker owns this analysis now"


def _finish(result: AnalysisResult, token: str, fields: dict) -> bool:
    """Write the outcome and sync the review item, if ``token`` still holds the lease.

    One transaction: the conditional UPDATE locks the row, so a takeover cannot slip
    between the write and the review item. False (nothing written) otherwise.
    """
    fields = {**fields, "finished_at": timezone.now()}
    with transaction.atomic():
        if not leases.write_if_held(result.pk, token, fields):
            logger.warning(
                "Analysis %s: lease %s lost before the result was written; dropped",
                result.pk,
                token,
            )
            return False
        for name, value in {**fields, "lease_expires_at": None, "lease_owner": ""}.items():
            setattr(result, name, value)
        if result.status == Status.DONE:
            sync_review_item(result)
    return True


def analyse_batch(result_ids: Sequence[int]) -> dict[str, int]:
    """Run these analyses as one batch (a chunk of ``score_catalog``): claim each row
    (``claim``: rows another worker has are skipped), then ``analyse_claimed``."""
    tokens = {result_id: token for result_id in result_ids if (token := claim(result_id))}
    counts = {"done": 0, "failed": 0, "skipped": len(result_ids) - len(tokens), "dropped": 0}
    for result in analyse_claimed(tokens).values():
        counts[result.status if result.status != Status.RUNNING else "dropped"] += 1
    return counts


def analyse_claimed(tokens: dict[int, str]) -> dict[int, AnalysisResult]:
    """Score rows this worker has claimed (``{result_id: token}``) as one batch.

    1. compute them together (``compute_many``: stored work reused, one encoder batch;
       a heartbeat renews every lease meanwhile);
    2. write each result, only while its lease is still held, ``failed`` with its
       reason for a row whose image was bad; a row whose lease was taken over is
       left to its new owner (it is returned still ``running``);
    3. open, update or close each review item, in the same transaction as 2.

    Interrupted (Ctrl-C, SIGTERM turned into an exception) before the results are
    written, the claimed rows go back to pending with their attempt given back, so
    a resumed run scores them at once; written results stay written.
    """
    if not tokens:
        return {}
    results = list(
        AnalysisResult.objects.select_related("image__product", "model_version")
        .filter(pk__in=tokens)
        .order_by("pk")
    )
    unwritten = dict(tokens)
    try:
        with leases.Heartbeat.for_rows(tokens), vocabularies.pinned():
            outcomes = compute_many(results)
            for result, outcome in zip(results, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    fields = {"status": Status.FAILED, "error": _failure_reason(outcome)}
                else:
                    fields = {"status": Status.DONE, "error": "", **outcome}
                _finish(result, tokens[result.pk], fields)
                unwritten.pop(result.pk)
    except BaseException:
        release(unwritten)
        raise
    return {result.pk: result for result in results}


def release(tokens: dict[int, str]) -> int:
    """Give claimed, unfinished rows back (pending, no lease, the attempt not counted),
    each only while this claim (its token) still holds it."""
    released = 0
    for result_id, token in tokens.items():
        released += leases.held(result_id, token).update(
            status=Status.PENDING, lease_expires_at=None, lease_owner="", attempts=F("attempts") - 1
        )
    return released


def _failure_reason(error: Exception) -> str:
    """What a failed row says: the decoder's own words, or the error's type and text."""
    if not isinstance(error, BadImageError | FileNotFoundError):
        logger.error("Analysis failed", exc_info=error)
    reason = str(error) if isinstance(error, BadImageError) else f"{type(error).__name__}: {error}"
    return reason[:2000]


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
        attribute_probe=settings.ATTRIBUTE_PROBE,
    )


def service_for(model_version: ModelVersion) -> ClipService:
    return get_clip_service(model_version.name_or_path, threshold=model_version.threshold)


def compute(result: AnalysisResult) -> dict:
    """Quality checks and CLIP scoring for one row; returns the fields to write."""
    [outcome] = compute_many([result])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def compute_many(results: Sequence[AnalysisResult]) -> list[dict | Exception]:
    """The fields to write for each row (or the exception that failed that row alone).

    Stored work is reused, so only what changed is computed:

    1. the stored quality report of the same image bytes under the same preset (a
       finished result of this image with this ``image_hash``) and the stored image
       embedding for (bytes, model version) are looked up, one query each;
    2. only rows missing one of them are decoded (once, reduced to what the checks
       and the model need; a few at a time in threads), and only rows without a
       stored report run the quality checks; duplicates are always looked up again
       through the band index (other products change), from the stored hash;
    3. the missing embeddings are computed in one batch and stored; then every row is
       judged in one ``scoring.judge`` call.

    A description edit or a new threshold therefore costs no decode, no image-encoder
    call and no quality check; a new model costs a decode and an embedding, no checks.
    """
    outcomes: list[dict | Exception | None] = [None] * len(results)
    by_version: dict[int, list[int]] = {}
    for index, result in enumerate(results):
        by_version.setdefault(result.model_version_id, []).append(index)
    for indexes in by_version.values():
        chosen = [results[index] for index in indexes]
        for index, outcome in zip(indexes, _compute_for_version(chosen), strict=True):
            outcomes[index] = outcome
    return outcomes


@dataclass
class _Work:
    """One row on its way through ``compute_many``."""

    result: AnalysisResult
    report: quality.QualityReport | None = None
    embedding: torch.Tensor | None = None
    decoded: DecodedImage | None = None
    measured: tuple[quality.QualityReport, bytes] | None = None  # checks, colour signature
    facts: ImageFacts | None = None
    judgement: Judgement | None = None
    error: Exception | None = None
    quality_ms: float = 0.0
    clip_ms: float = 0.0

    def run_step(self, field: str, compute: Callable[[], object]) -> None:
        """Set ``field`` to ``compute()``, timed into ``quality_ms``; an exception (a bad
        image, a missing file, …) fails this row only."""
        started = time.perf_counter()
        try:
            setattr(self, field, compute())
        except Exception as error:  # one bad row never fails the others
            self.error = error
        self.quality_ms += (time.perf_counter() - started) * 1000


def _compute_for_version(results: Sequence[AnalysisResult]) -> list[dict | Exception]:
    model_version = results[0].model_version
    service = service_for(model_version)
    preset = quality.get_preset(settings.QUALITY_PRESET)
    work = [_Work(result) for result in results]
    reports = stored_quality_reports(results, preset)
    embeddings = stored_embeddings(model_version, [result.image_hash for result in results])
    for item in work:
        item.report = reports.get(item.result.pk)
        item.embedding = embeddings.get(item.result.image_hash)

    _prepare_images(service, model_version, work, preset)
    for item in work:
        if item.error is None:
            item.run_step("facts", lambda item=item: _quality_facts(item))

    ready = [item for item in work if item.error is None]
    if ready:
        started = time.perf_counter()
        judgements = judge(
            service,
            torch.stack([item.embedding for item in ready]),
            [item.result.description for item in ready],
            scoring_options(model_version),
        )
        share = (time.perf_counter() - started) * 1000 / len(ready)
        for item, judgement in zip(ready, judgements, strict=True):
            item.clip_ms += share
            item.judgement = judgement
    return [item.error if item.error is not None else _fields(item) for item in work]


def _prepare_images(
    service: ClipService,
    model_version: ModelVersion,
    work: Sequence[_Work],
    preset: quality.QualityPreset,
) -> None:
    """Decode the rows that need it, then run the image encoder on them in this thread
    while a few others run their quality checks (the pure part: no database).

    Pillow, OpenCV, numpy and torch release the GIL, so the checks overlap the
    encoder instead of waiting for it. A row whose decode or checks fail carries
    the error (its embedding, if computed, is kept: it belongs to the bytes).
    """
    to_decode = [item for item in work if item.report is None or item.embedding is None]

    def decode(item: _Work) -> None:
        item.run_step("decoded", lambda: decode_for_analysis(item.result.image, service))

    def measure(item: _Work) -> None:
        item.run_step("measured", lambda: measure_quality(item.decoded, preset))

    if not to_decode:  # every row's report and embedding are stored
        return
    with ThreadPoolExecutor(max_workers=min(DECODE_THREADS, len(to_decode))) as pool:
        list(pool.map(decode, to_decode))
        to_measure = [item for item in to_decode if item.error is None and item.report is None]
        measuring = pool.map(measure, to_measure)  # submitted now, run beside the encoder
        _embed_where_needed(service, model_version, [w for w in work if w.error is None])
        list(measuring)


def _quality_facts(item: _Work) -> ImageFacts:
    image = item.result.image
    if item.report is not None:  # stored: only the duplicate look-up runs again
        return with_duplicate_check(image, item.report, bytes(image.colour_histogram or b""))
    report, histogram = item.measured
    record_signature(image.pk, report.perceptual_hash, histogram)
    return with_duplicate_check(image, report, histogram)


def _embed_where_needed(
    service: ClipService, model_version: ModelVersion, work: Sequence[_Work]
) -> None:
    """One image-encoder batch for the rows without a stored embedding; stored after.

    Should the batch fail, each image is encoded alone, so only a bad one fails."""
    missing = [item for item in work if item.embedding is None]
    if not missing:
        return
    started = time.perf_counter()
    try:
        vectors = list(service.image_embeddings([item.decoded.image for item in missing]))
    except Exception:
        vectors = []
        for item in missing:
            try:
                vectors.append(service.image_embeddings([item.decoded.image])[0])
            except Exception as error:
                item.error = error
                vectors.append(None)
    share = (time.perf_counter() - started) * 1000 / len(missing)
    for item, vector in zip(missing, vectors, strict=True):
        item.clip_ms += share
        if vector is not None:
            item.embedding = store_embedding(model_version, item.result.image_hash, vector)


def _fields(item: _Work) -> dict:
    report = item.facts.report
    return {
        "quality": report.as_dict(),
        **report.summary_fields(),
        "duplicate_of_id": item.facts.duplicate_of,
        "duplicate_distance": item.facts.duplicate_distance,
        **item.judgement.result_fields(),
        "quality_ms": round(item.quality_ms, 2),
        "clip_ms": round(item.clip_ms, 2),
    }


def stored_quality_reports(
    results: Sequence[AnalysisResult], preset: quality.QualityPreset
) -> dict[int, quality.QualityReport]:
    """Result id → the quality report already measured on the same image bytes under
    ``preset`` (the newest result of that image with that content hash that has one).

    Only where the image's perceptual hash is stored too, so the duplicate look-up
    needs no decode. One query, through the ``(image, image_hash, …)`` unique index.
    """
    wanted = {
        (result.image_id, result.image_hash): result.pk
        for result in results
        if result.image.perceptual_hash
    }
    if not wanted:
        return {}
    # Any row of the image may hold it: a finished one, or this very row finished before
    # and now judged again (a new threshold). Rows never measured hold no report.
    rows = (
        AnalysisResult.objects.filter(image_id__in={image_id for image_id, _ in wanted})
        .order_by("image_id", "-finished_at", "-pk")
        .values_list("image_id", "image_hash", "quality")
    )
    found: dict[int, quality.QualityReport] = {}
    for image_id, image_hash, stored in rows:
        result_id = wanted.get((image_id, image_hash))
        if result_id is None or result_id in found:
            continue
        report = quality.QualityReport.from_dict(stored or {})
        if report is not None and report.preset == preset.name:
            found[result_id] = report
    return found


def stored_embeddings(
    model_version: ModelVersion, image_hashes: Iterable[str]
) -> dict[str, torch.Tensor]:
    """Content hash → the stored embedding by ``model_version`` (one query)."""
    rows = ImageEmbedding.objects.filter(
        model_version=model_version, image_hash__in=set(image_hashes)
    ).values_list("image_hash", "vector")
    return {
        image_hash: torch.from_numpy(np.frombuffer(bytes(vector), dtype=np.float32).copy())
        for image_hash, vector in rows
    }


def store_embedding(
    model_version: ModelVersion, image_hash: str, embedding: torch.Tensor
) -> torch.Tensor:
    """Keep an image's embedding for (content, model); the first one stored wins."""
    ImageEmbedding.objects.get_or_create(
        image_hash=image_hash,
        model_version=model_version,
        defaults={"vector": embedding.numpy().astype(np.float32).tobytes()},
    )
    return embedding


def working_side(service: ClipService) -> int:
    """The longest side an analysis needs: the quality checks' working size, and twice
    the model's input (CLIP letter-boxes to 2:1, then takes the short side)."""
    return max(quality.WORKING_SIDE, 2 * service.input_side)


def decode_for_analysis(image: ProductImage, service: ClipService) -> DecodedImage:
    """Decode the stored file once, no larger than the checks and the model need."""
    with image.image.open("rb") as handle:
        return decode_image(
            handle,
            formats=settings.ALLOWED_IMAGE_FORMATS,
            max_pixels=settings.MAX_IMAGE_PIXELS,
            working_side=working_side(service),
        )


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


def measure_quality(
    decoded: DecodedImage, preset: quality.QualityPreset
) -> tuple[quality.QualityReport, bytes]:
    """The quality checks and the colour signature of one decode (no database: these
    run in threads). Resolution and aspect ratio read the file's own size."""
    pixels = decoded.image
    report = quality.run_quality_checks(pixels, preset, (decoded.width, decoded.height))
    return report, colour_histogram(pixels)


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


def reexplain(family_names: Iterable[str] | None = None) -> dict[str, int]:
    """Re-explain current finished results after a vocabulary edit; returns the counts.

    1. pick the current done results the families ``family_names`` affect (all
       families when None): those whose explanation names one, or whose
       description states one of its terms (``vocabularies.affected_by``); a change
       to the category family also re-ranks the zero-shot category;
    2. per model version, recompute the zero-shot ranking and the explanation from
       the *stored* image embedding: no image-encoder call, and the texts'
       embeddings come from the service's text cache (the counterfactual probe's
       descriptions) or are cached per model version (``explanation.prompt_embeddings``);
    3. write ``zero_shot_results``, ``zero_shot_label`` and ``explanation``, then
       open, update or close the review item (``attribute_conflict``,
       ``category_conflict``).

    Results without a stored embedding are skipped: they are explained afresh
    when next scored. The similarity score and the match decision do not change.
    """
    names = set(family_names) if family_names is not None else None
    counts = {"reexplained": 0, "changed": 0, "skipped": 0}
    results = (
        AnalysisResult.objects.filter(is_current=True, status=Status.DONE)
        .select_related("image__product", "model_version")
        .order_by("model_version_id", "pk")
    )
    services: dict[int, tuple[ClipService, ScoringOptions]] = {}
    for result in results.iterator(chunk_size=500):
        if names is not None and not vocabularies.affected_by(
            result.explanation, result.description, names
        ):
            continue
        stored = ImageEmbedding.objects.filter(
            image_hash=result.image_hash, model_version=result.model_version
        ).first()
        if stored is None:
            counts["skipped"] += 1
            continue
        if result.model_version_id not in services:
            services[result.model_version_id] = (
                service_for(result.model_version),
                scoring_options(result.model_version),
            )
        service, options = services[result.model_version_id]
        embedding = torch.from_numpy(np.frombuffer(bytes(stored.vector), dtype=np.float32).copy())
        zero_shot = zero_shot_ranking(service, embedding, options)
        explanation = (
            explain(
                service,
                embedding,
                result.description,
                options.explain_families,
                options.conflict_confidence,
                options.attribute_probe,
                flagged=not result.is_match,
            )
            if options.explain_families
            else None
        )
        fields = {
            "zero_shot_results": zero_shot,
            "zero_shot_label": next(iter(zero_shot), "") if zero_shot else "",
            "explanation": explanation,
        }
        changed = any(getattr(result, name) != value for name, value in fields.items())
        if changed:
            for name, value in fields.items():
                setattr(result, name, value)
            result.save(update_fields=list(fields))
            counts["changed"] += 1
        sync_review_item(result)
        counts["reexplained"] += 1
    logger.info("Re-explained %(reexplained)d results (%(changed)d changed)", counts)
    return counts


# --- 3. recover ---------------------------------------------------------------
def recover_stuck(now=None) -> dict[str, int]:
    """Re-enqueue work whose worker died or whose wake-up the broker lost.

    Run every ``ANALYSIS_SWEEP_SECONDS`` by each worker process (``clipanalysis.sweeper``),
    and by the ``recover_stuck`` command.

    1. Running rows whose lease lapsed (the holder's heartbeat stopped: it died) and
       that have used ``ANALYSIS_MAX_ATTEMPTS`` fail with a reason;
    2. the others are released back to pending, each with a conditional UPDATE
       (still running, lease still lapsed), and re-enqueued: a row whose lease was
       renewed meanwhile, or that another sweeper released first, is left alone;
    3. pending rows whose wake-up was never sent (the broker was down) for one lease,
       or was sent more than ``ANALYSIS_REQUEUE_PENDING_SECONDS`` ago (a Redis restart
       loses queued wake-ups), are sent again, also conditionally; so are rows whose
       wake-up is one lease old while the broker's queue is empty (it died in a killed
       cluster's prefetch). A long queue is never flooded with duplicates.

    Duplicate wake-ups are harmless: only one worker can claim a row.
    """
    now = now or timezone.now()
    attempts = settings.ANALYSIS_MAX_ATTEMPTS
    expired = AnalysisResult.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now)
    failed = expired.filter(attempts__gte=attempts).update(
        status=Status.FAILED,
        error=f"Gave up after {attempts} attempts (worker lost or timed out).",
        finished_at=now,
        lease_expires_at=None,
        lease_owner="",
    )
    retry_ids = [
        pk
        for pk in expired.values_list("pk", flat=True)
        if expired.filter(pk=pk).update(
            status=Status.PENDING, lease_expires_at=None, lease_owner="", enqueued_at=now
        )
    ]
    if retry_ids:
        logger.warning("Released %d analyses whose worker stopped renewing", len(retry_ids))
    one_lease_ago = now - timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS)
    requeue_before = now - timedelta(seconds=settings.ANALYSIS_REQUEUE_PENDING_SECONDS)
    pending = AnalysisResult.objects.filter(status=Status.PENDING)
    sent_before = requeue_before
    if pending.filter(enqueued_at__lt=one_lease_ago).exists() and _broker_queue_is_empty():
        # Nothing waits in the broker, yet these rows wait: their wake-ups were lost,
        # or sit in a dead cluster's prefetch. Bounded: at most what is in limbo.
        sent_before = one_lease_ago
    stale_pending = pending.filter(
        Q(enqueued_at__isnull=True, created_at__lt=one_lease_ago) | Q(enqueued_at__lt=sent_before)
    )
    retry_ids += [
        pk
        for pk in stale_pending.values_list("pk", flat=True)
        if stale_pending.filter(pk=pk).update(enqueued_at=now)
    ]
    enqueue(retry_ids)
    return {"failed": failed, "requeued": len(retry_ids)}


def _broker_queue_is_empty() -> bool:
    """Whether no wake-up waits in the broker (False when it cannot be asked)."""
    try:
        return get_broker().queue_size() == 0
    except Exception as error:  # the broker is down: enqueue() will say so too
        logger.warning("Broker unavailable while sweeping: %s", error)
        return False
