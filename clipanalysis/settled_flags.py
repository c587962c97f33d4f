"""What a reviewer already ruled on stays ruled: re-scoring re-opens only what changed.

ORM-aware, read-only; ``clipanalysis.review.sync_review_item`` asks it which of a
result's review reasons are still open questions. A verdict on an image settles
the flags its reviewer was shown (the analysis the verdict was recorded on):

* the text's outcome (mismatch, uncertain, attribute or category conflict) while
  the same picture and text keep the same match decision: a new model or threshold
  that keeps "mismatch" a mismatch asks nothing new; one that flips match ↔
  mismatch does, and so does another text;
* each failed quality check that was shown: only a check that newly fails asks
  again. A near-duplicate counts as the same failure while it duplicates the same
  photo (the same image, or one with the same bytes);
* a near-duplicate *pair*: a Match verdict on one image of the pair also settles
  the flag on the other ("these two are fine").

Only verdicts on the same picture (content hash) count: a replaced image is new.
"""

from __future__ import annotations

from catalog.models import ProductImage
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict

Reason = ReviewItem.Reason
QUALITY = str(Reason.QUALITY)
DUPLICATE = "duplicate"


def _verdicts():
    """Verdicts that stand (an undone verdict settles nothing)."""
    return Verdict.objects.standing()


def ruling_on(result: AnalysisResult) -> Verdict | None:
    """The newest standing verdict on this image's picture, with the analysis it saw."""
    return (
        _verdicts()
        .filter(review_item__image_id=result.image_id, result__image_hash=result.image_hash)
        .select_related("result")
        .order_by("-created_at", "-id")
        .first()
    )


def _same_photo(first_id: int | None, second_id: int | None) -> bool:
    if first_id == second_id:
        return True  # the same image, or both unnamed (a duplicate flag without its pair)
    if first_id is None or second_id is None:
        return False
    hashes = dict(
        ProductImage.objects.filter(pk__in=[first_id, second_id]).values_list("pk", "content_hash")
    )
    return len(hashes) == 2 and hashes[first_id] == hashes[second_id]


def _pair_settled_from_the_other_side(result: AnalysisResult) -> bool:
    """A Match verdict on the duplicated image, given while it was flagged as a duplicate
    of this one: the pair was judged fine."""
    return (
        _verdicts()
        .filter(
            decision=Verdict.Decision.MATCH,
            review_item__image_id=result.duplicate_of_id,
            result__duplicate_of_id=result.image_id,
        )
        .exists()
    )


def new_quality_failures(result: AnalysisResult, seen: AnalysisResult | None) -> set[str]:
    """The result's failed checks that the reviewer was not shown (all of them without a
    verdict)."""
    failures = set(result.quality_failures or [])
    shown = set(seen.quality_failures or []) if seen is not None else set()
    new = failures - shown
    if (
        DUPLICATE in failures
        and DUPLICATE in shown
        and not _same_photo(result.duplicate_of_id, seen.duplicate_of_id)
    ):
        new.add(DUPLICATE)  # another photo duplicated: a new question
    if DUPLICATE in new and result.duplicate_of_id and _pair_settled_from_the_other_side(result):
        new.discard(DUPLICATE)
    return new


def unsettled_reasons(result: AnalysisResult, reasons: list[str]) -> list[str]:
    """``reasons`` less what a standing verdict on this picture already settled."""
    if not reasons:
        return reasons
    verdict = ruling_on(result)
    seen = verdict.result if verdict is not None else None
    if seen is not None and seen.pk == result.pk:
        return []  # ruled on this very analysis
    quality_is_new = bool(new_quality_failures(result, seen))
    if seen is None:
        return [reason for reason in reasons if reason != QUALITY or quality_is_new]
    text_is_new = (
        seen.description_hash != result.description_hash or seen.is_match != result.is_match
    )
    return [
        reason
        for reason in reasons
        if (reason == QUALITY and quality_is_new) or (reason != QUALITY and text_is_new)
    ]


def closing_reason(result: AnalysisResult, raised: list[str]) -> str:
    """Why a re-score closes an open item: nothing is wrong, or nothing new since a verdict."""
    if raised:
        return f"Re-scored: {result.status_text}; nothing new since the verdict"
    return f"Re-scored: {result.status_text}, quality passed"
