"""The review queue: the one writer of ``ReviewItem`` and ``Verdict``.

``sync_review_item`` keeps an image's queue entry in step with its current
analysis; ``record_verdict`` stores a reviewer's decision (append-only).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clipanalysis.models import AnalysisResult, ReviewItem

Reason = ReviewItem.Reason


def review_reasons(result: AnalysisResult) -> list[str]:
    """Why a finished result needs a human: mismatch, uncertain score, failed quality."""
    reasons = []
    if result.is_match is False:
        reasons.append(Reason.MISMATCH)
    if result.similarity_score is not None and result.threshold is not None:
        if abs(result.similarity_score - result.threshold) <= settings.REVIEW_UNCERTAINTY_BAND:
            reasons.append(Reason.UNCERTAIN)
    if result.quality_passed is False:
        reasons.append(Reason.QUALITY)
    return [str(reason) for reason in reasons]


def review_priority(result: AnalysisResult) -> float:
    """Most informative first: the closer to the threshold, the smaller."""
    if result.similarity_score is None or result.threshold is None:
        return 1.0
    return round(abs(result.similarity_score - result.threshold), 6)


def sync_review_item(result: AnalysisResult) -> ReviewItem | None:
    """Open, update or auto-close the image's review item for its current result.

    One open item per image. A re-score that no longer needs a human closes the
    open item with the reason. Returns the open item, if any.
    """
    if not result.is_current or result.status != AnalysisResult.Status.DONE:
        return None
    reasons = review_reasons(result)
    open_item = ReviewItem.objects.open().filter(image_id=result.image_id).first()
    if not reasons:
        if open_item is not None:
            close_item(open_item, f"Re-scored: {result.status_text}, quality passed")
        return None
    fields = {
        "result": result,
        "reasons": reasons,
        "primary_reason": reasons[0],
        "priority": review_priority(result),
    }
    if open_item is not None:
        for name, value in fields.items():
            setattr(open_item, name, value)
        open_item.save(update_fields=list(fields))
        return open_item
    already_judged = ReviewItem.objects.resolved().filter(result=result, verdicts__isnull=False)
    if already_judged.exists():
        return None  # a reviewer already ruled on exactly this analysis
    try:
        with transaction.atomic():
            return ReviewItem.objects.create(image_id=result.image_id, **fields)
    except IntegrityError:  # opened concurrently
        return ReviewItem.objects.open().filter(image_id=result.image_id).first()


def close_item(item: ReviewItem, reason: str) -> None:
    item.state = ReviewItem.State.RESOLVED
    item.resolved_at = timezone.now()
    item.closed_reason = reason[:255]
    item.save(update_fields=["state", "resolved_at", "closed_reason"])
